"""Orgdesk settings: 12-factor, everything that differs between machines comes
from the environment (see the configuration table in README.md)."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development only: never used once DEBUG is off (see the check above).
    SECRET_KEY = "dev-insecure-orgdesk-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

# Scheme + host that SCIM URLs shown to admins (and meta.location) are built from.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "config.apps.OrgdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",  # TokenAuthentication for the read-only /api/ (mappings.api)
    "django_scim",
    "organizations",
    "organizations.signin.saml",
    "organizations.signin.domains",
    # Two-factor authentication: django-otp's TOTP devices, our recovery codes and
    # org policy (organizations/signin/mfa/, docs/ARCHITECTURE.md "Identity").
    "django_otp",
    "django_otp.plugins.otp_totp",
    "organizations.signin.mfa",
    "scim",
    "mappings",
]

MIDDLEWARE = [
    # Request id and client address (through the trusted proxies) for everything below.
    "organizations.request_context.RequestContextMiddleware",
    # SCIM JSON for every response and error under /scim/ (an outage is 503 with
    # Retry-After), request log, provisioning activity.
    "scim.api.middleware.ScimApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A request under /scim/ ends here: its view, or the hot reads' fast path
    # (scim/api/fast_reads.py); everything below serves the browser.
    "scim.api.stack.ScimStackMiddleware",
    # Content-Security-Policy on every page (CONTENT_SECURITY_POLICY below);
    # nothing at all for the SCIM API, probes and /metrics.
    "config.csp.OrgdeskCSPMiddleware",
    # Static files from the app itself (compressed, cache-forever names): no
    # proxy configuration needed, and every web node serves the same files.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After a sign-in: the signed cookie that makes this browser known to the account.
    "organizations.signin.throttle.TrustedBrowserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends a session idle past SESSION_IDLE_TIMEOUT or older than SESSION_ABSOLUTE_LIFETIME.
    "organizations.signin.session_lifetime.SessionLifetimeMiddleware",
    # Ends a session on its next request once the person is deactivated or removed.
    "organizations.signin.sessions.MembershipSessionMiddleware",
    # A password session that must enrol in two-factor authentication (operators,
    # members of an org that requires it) opens nothing else until it has.
    "organizations.signin.mfa.enforcement.EnrolmentRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if env_bool("QUERY_COUNT_HEADER", False):
    MIDDLEWARE.insert(1, "config.querycount.QueryCountMiddleware")

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}",
        # Persistent connections: a new PostgreSQL connection per request costs
        # 5-7 ms of server CPU (docs/ARCHITECTURE.md, "Measured choices").
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    (BASE_DIR / "var").mkdir(exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "organizations.User"
# The password (first: what force_login and the sign-in form use) and single
# sign-on; which one made a session decides what it may open (organizations.signin.sessions).
AUTHENTICATION_BACKENDS = ["organizations.backends.EmailBackend", "organizations.backends.SsoBackend"]
# E-mail is unique case-insensitively through a functional constraint
# (user_email_ci_unique), which this check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files after `collectstatic` (the Docker image runs it);
    # development serves the app directories as they are.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Development: WhiteNoise serves the app directories, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGIN_URL = "admin:login"
# A refused form (expired CSRF token) gets the branded 403 page with a way back.
CSRF_FAILURE_VIEW = "organizations.signin.errors.csrf_failure"



def parse_email_url(url: str) -> dict:
    """EMAIL_URL -> Django's EMAIL_* settings. `console:` prints messages (what
    `make run` uses), `smtp://user:password@host:port` is plain SMTP,
    `smtp+tls://` upgrades with STARTTLS (port 587 by default), `smtps://` is
    TLS from the start (port 465). User and password are percent-decoded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    ports = {"smtp": 25, "smtp+tls": 587, "smtps": 465}
    if scheme not in ports:
        raise ImproperlyConfigured(f"EMAIL_URL: unknown scheme {scheme!r} (console:, smtp://, smtp+tls://, smtps://).")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or ports[scheme],
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme == "smtp+tls",
        "EMAIL_USE_SSL": scheme == "smtps",
    }


# E-mail (invitations, password reset) leaves from Celery tasks through Django's
# e-mail framework; EMAIL_URL picks the transport (README: Configuration).
EMAIL_URL = os.environ.get("EMAIL_URL", "") or ("console:" if DEBUG else "smtp://localhost:25")
globals().update(parse_email_url(EMAIL_URL))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "Orgdesk <no-reply@orgdesk.invalid>"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# First retry of a failed send after this many seconds, doubling up to an hour.
EMAIL_RETRY_DELAY = env_int("EMAIL_RETRY_DELAY", 60)
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 7)
# Invitations owed by SCIM pushes are built and sent by one worker run per
# burst, INVITATION_BATCH_SECONDS after its first push; beat sweeps every
# INVITATION_SWEEP_SECONDS in case that run was lost (organizations.signin.invitations).
INVITATION_BATCH_SECONDS = env_int("INVITATION_BATCH_SECONDS", 10)
INVITATION_SWEEP_SECONDS = env_int("INVITATION_SWEEP_SECONDS", 30)

# Cache: Redis when REDIS_URL is set, otherwise process-local memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Deployments sharing one Redis database keep apart by prefix.
    CACHES["default"]["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX", "")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "orgdesk"}}

# Celery: with no broker, tasks run eagerly in-process (on commit of the
# transaction that scheduled them); with a broker, on real workers.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "orgdesk")
# Celery beat (`make beat`, one per deployment is enough; two are harmless:
# every scheduled task takes a lease, organizations/scheduled.py). Times are UTC.
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    BASE_DIR / "var" / "celerybeat-schedule"
)
CELERY_BEAT_SCHEDULE = {
    "prune-provisioning-activity": {
        "task": "scim.tasks.prune_provisioning_activity",
        "schedule": timedelta(seconds=env_int("SCIM_ACTIVITY_PRUNE_SECONDS", 3600)),
        "options": {"expires": 3600},
    },
    "deliver-due-invitations": {
        "task": "organizations.signin.due_invitations.deliver_due_invitations",
        "schedule": timedelta(seconds=INVITATION_SWEEP_SECONDS),
        "options": {"expires": INVITATION_SWEEP_SECONDS},
    },
    "rollup-provisioning-health": {
        "task": "scim.tasks.rollup_provisioning_health",
        "schedule": timedelta(seconds=env_int("SCIM_HEALTH_ROLLUP_SECONDS", 60)),
        "options": {"expires": 60},
    },
    "expire-invitations": {
        "task": "organizations.tasks.expire_invitations",
        "schedule": crontab(minute=47),  # hourly
        "options": {"expires": 3600},
    },
    "recheck-verified-domains": {
        "task": "organizations.signin.domains.tasks.recheck_verified_domains",
        "schedule": crontab(hour=4, minute=10),  # daily
        "options": {"expires": 6 * 3600},
    },
    "saml-metadata-refresh": {
        "task": "organizations.signin.saml.tasks.refresh_idp_metadata",
        "schedule": crontab(hour=2, minute=15),  # nightly
        "options": {"expires": 6 * 3600},
    },
    "saml-certificate-expiry": {
        "task": "organizations.signin.saml.tasks.warn_certificate_expiry",
        "schedule": crontab(hour=8, minute=5),  # daily, after the refresh
        "options": {"expires": 6 * 3600},
    },
    "access-consistency-pass": {
        "task": "mappings.tasks.nightly_consistency_pass",
        "schedule": crontab(hour=3, minute=30),  # nightly
        "options": {"expires": 6 * 3600},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# django-scim2: read at import; misspelled keys are silently ignored, so
# tests/scim/api/test_settings_pinned.py pins that these are the values it sees.
SCIM_SERVICE_PROVIDER = {
    "NETLOC": PUBLIC_BASE_URL.split("://", 1)[-1],
    "SCHEME": PUBLIC_BASE_URL.split("://", 1)[0],
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the Secret Token issued when the app is installed",
            "primary": True,
        }
    ],
    "USER_ADAPTER": "scim.api.adapters.ScimUserAdapter",
    "GROUP_ADAPTER": "scim.api.adapters.ScimGroupAdapter",
    "GROUP_MODEL": "scim.models.ScimGroup",
    "USER_MODEL_GETTER": "scim.api.adapters.get_membership_model",
    "AUTH_CHECK_MIDDLEWARE": "scim.api.auth.ScimAuthCheckMiddleware",
    "SERVICE_PROVIDER_CONFIG_MODEL": "scim.api.discovery.ServiceProviderConfig",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="orgdesk-scim"',
}

SCIM_MAX_PAGE_SIZE = env_int("SCIM_MAX_PAGE_SIZE", 1000)
SCIM_MAX_BODY_BYTES = env_int("SCIM_MAX_BODY_BYTES", 5 * 1024 * 1024)
SCIM_ACTIVITY_RETENTION_DAYS = env_int("SCIM_ACTIVITY_RETENTION_DAYS", 30)
# Successful reads are written to the activity list together (scim/activity.py):
# up to this many per INSERT (1: each at once), at most this many seconds late.
SCIM_ACTIVITY_READ_BATCH = env_int("SCIM_ACTIVITY_READ_BATCH", 100)
SCIM_ACTIVITY_READ_DELAY = float(os.environ.get("SCIM_ACTIVITY_READ_DELAY") or 2)
# Refused calls (401, 429) are coalesced per org, installation, reason and operation
# and written once per this many seconds (sooner when the SCIM tab is opened);
# at most this many entries of unknown tokens per window and process.
SCIM_ACTIVITY_FAILURE_WINDOW = float(os.environ.get("SCIM_ACTIVITY_FAILURE_WINDOW") or 60)
SCIM_ACTIVITY_FAILURE_KEYS = env_int("SCIM_ACTIVITY_FAILURE_KEYS", 100)
# The health chart reads hours rolled up by beat (scim/health_rollup.py): calls are
# rolled up this many seconds after they were made (at least twice the delays above);
# the chart sums the calls since then raw.
SCIM_HEALTH_ROLLUP_MARGIN = env_int("SCIM_HEALTH_ROLLUP_MARGIN", 180)
# Seconds an unfiltered list's totalResults is cached (scim/api/totals.py); 0: always COUNT.
SCIM_TOTAL_CACHE_SECONDS = env_int("SCIM_TOTAL_CACHE_SECONDS", 5)
# A mapping change touching more members than this runs as a Celery task.
ACCESS_SYNC_LIMIT = env_int("ACCESS_SYNC_LIMIT", 200)
# Abuse limits (scim/api/ratelimit.py), counted in the cache; 0 turns a limit off.
# Far above Okta's ~600 requests/minute per app and Entra's parallel bursts.
SCIM_RATE_LIMIT_PER_MINUTE = env_int("SCIM_RATE_LIMIT_PER_MINUTE", 6000)
SCIM_RATE_LIMIT_BURST = env_int("SCIM_RATE_LIMIT_BURST", 500)  # per installation per second
SCIM_AUTH_FAILURES_PER_MINUTE = env_int("SCIM_AUTH_FAILURES_PER_MINUTE", 30)  # bad tokens per address
# Admin sign-in throttling (organizations/signin/throttle.py): a (account, address) pair
# or an address is paused; an account guessed from many addresses is only delayed.
ADMIN_LOGIN_FAILURES_PER_ACCOUNT = env_int("ADMIN_LOGIN_FAILURES_PER_ACCOUNT", 5)
ADMIN_LOGIN_FAILURES_PER_ADDRESS = env_int("ADMIN_LOGIN_FAILURES_PER_ADDRESS", 20)
ADMIN_LOGIN_LOCKOUT_SECONDS = env_int("ADMIN_LOGIN_LOCKOUT_SECONDS", 900)
ADMIN_LOGIN_MAX_DELAY_SECONDS = env_int("ADMIN_LOGIN_MAX_DELAY_SECONDS", 60)
# Two-factor codes are throttled with the limits above (organizations.signin.throttle,
# prefix "mfa"), so django-otp's own per-device back-off is off: it would refuse a
# correct code for seconds after a typo without saying why.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER") or "Orgdesk"
# How long the second step of a password sign-in waits for the code.
MFA_CHALLENGE_SECONDS = env_int("MFA_CHALLENGE_SECONDS", 300)
# SAML SSO: clock skew allowed on NotBefore/NotOnOrAfter (python3-saml's default is 300 s).
SAML_CLOCK_SKEW_SECONDS = env_int("SAML_CLOCK_SKEW_SECONDS", 120)
# Verified domains: the DNS resolver that reads the TXT records, "host:port"
# ("[::1]:53" for IPv6); unset: the system's (/etc/resolv.conf).
DNS_RESOLVER = os.environ.get("DNS_RESOLVER", "").strip() or None
# An IdP's metadata URL (organizations/signin/saml/fetch.py) is fetched over HTTPS
# only; this allows plain http:// to a loopback test server (tests; DEBUG too).
SAML_METADATA_ALLOW_HTTP = env_bool("SAML_METADATA_ALLOW_HTTP", False)
SAML_METADATA_TIMEOUT = env_int("SAML_METADATA_TIMEOUT", 5)
# Answer 503 (Retry-After) instead of hanging when PostgreSQL or Redis is unreachable.
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
if REDIS_URL:
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 1, "socket_timeout": 1}  # fail fast, limits fail open

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapers call nodes directly over plain HTTP on the internal network.
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # TLS ends at the proxy, which must set X-Forwarded-Proto itself (overwriting
    # any the client sent); the app then knows a request was HTTPS. Off
    # (TRUST_X_FORWARDED_PROTO=false) when the app terminates TLS itself.
    if env_bool("TRUST_X_FORWARDED_PROTO", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

# Trusted proxies (organizations/request_context.py): X-Forwarded-For is read
# only through them. The count trusts the nearest N hops whatever their
# address (one load balancer: 1); the list names proxy addresses or networks.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

# /metrics (config/metrics.py): off (404) unless one of these is set.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
METRICS_BEARER_TOKEN = os.environ.get("METRICS_BEARER_TOKEN", "")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp 4, config/csp.py): scripts and styles come
# only from our own static files, so no inline <script>, <style>, style="" or
# on*= handler anywhere (tests/security/test_csp.py walks the templates).
# Django admin's own templates need no 'unsafe-inline' for the pages we use
# (the one inline <style> of admin/change_list.html only shows on a changelist
# without actions, which only operators open, and costs one column width).
CONTENT_SECURITY_POLICY = {
    # JSON and plain text no browser renders; the SCIM API is the hot path.
    "EXCLUDE_URL_PREFIXES": ["/scim/", "/healthz", "/readyz", "/metrics"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

# Session lifetimes (organizations/signin/session_lifetime.py): a session ends
# after this many seconds without a request, and this many after sign-in
# whatever the activity. The cookie lives no longer than the absolute lifetime.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 12 * 3600)
SESSION_ABSOLUTE_LIFETIME = env_int("SESSION_ABSOLUTE_LIFETIME", 14 * 24 * 3600)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME

# JSON lines in production, readable text in development (config/logging.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
LOGGING = logging_config(fmt=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO"))
