"""Shared fixtures, and the rule for tests that need services.

Tests marked `postgres`, `redis`, `celery_worker` or `browser` skip with a clear
reason when that service is missing. ORGDESK_REQUIRE (set by .ci/run) names the
capabilities that must be present ("all", or e.g. "browser"): for those a
missing service, or any skip at all, is a failure."""
from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests import builders, workers
from tests.hardening import figures

ROOT = Path(__file__).resolve().parent.parent


def _live_server_without_nagle() -> None:
    """Django's live server (wsgiref) writes a response's headers and body in
    two sends; with Nagle's algorithm on, the body waits for the client's
    delayed ACK, about 40 ms per request. Real servers (gunicorn) set
    TCP_NODELAY; so does the test server."""
    import socket

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class NoDelayWSGIServer(ThreadedWSGIServer):
        def get_request(self):
            conn, address = super().get_request()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn, address

    LiveServerThread.server_class = NoDelayWSGIServer


_live_server_without_nagle()
CHROMIUM = "/usr/bin/chromium"
CAPABILITIES = ("postgres", "redis", "celery_worker", "browser")


def required() -> set[str]:
    value = os.environ.get("ORGDESK_REQUIRE", "").strip()
    if value == "all":
        return set(CAPABILITIES)
    return {v.strip() for v in value.split(",") if v.strip()}


def _redis_up() -> bool:
    url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    if not url:
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _missing(capability: str) -> str | None:
    """Why this capability is unavailable, or None when it is there."""
    if capability == "postgres":
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)"
    elif capability == "redis":
        if not _redis_up():
            return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0 with a server up (.ci/run does)"
    elif capability == "celery_worker":
        if not os.environ.get("CELERY_BROKER_URL"):
            return "needs a Celery broker: set CELERY_BROKER_URL=redis://... (.ci/run does)"
        if not _redis_up():
            return "needs the Redis broker at CELERY_BROKER_URL to be up"
    elif capability == "browser":
        if not Path(CHROMIUM).exists():
            return "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
        try:
            import playwright  # noqa: F401
        except ImportError:
            return "needs playwright (pip install -e '.[dev]')"
    return None


def pytest_runtest_setup(item):
    must = required()
    for capability in CAPABILITIES:
        if item.get_closest_marker(capability) is None:
            continue
        reason = _missing(capability)
        if reason is None:
            continue
        if capability in must:
            pytest.fail(f"ORGDESK_REQUIRE includes {capability!r} but it is missing: {reason}", pytrace=False)
        pytest.skip(reason)


_FIGURES_FROM_WORKERS: figures.Figures = {}


def pytest_sessionfinish(session):
    """A pytest-xdist worker hands its hardening figures to the controller."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["hardening"] = figures.counted()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    figures.add(_FIGURES_FROM_WORKERS, getattr(node, "workeroutput", {}).get("hardening", {}))


def pytest_terminal_summary(terminalreporter):
    """The hardening figures of the suites that ran, here or in the workers."""
    for line in figures.lines(figures.add(figures.counted(), _FIGURES_FROM_WORKERS)):
        terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if required() and report.skipped and not hasattr(report, "wasxfail"):
        markers = {c for c in CAPABILITIES if item.get_closest_marker(c)}
        if markers & required() or required() == set(CAPABILITIES):
            report.outcome = "failed"
            report.longrepr = f"skipped under ORGDESK_REQUIRE={os.environ.get('ORGDESK_REQUIRE')}: {report.longrepr}"


def clear_cache() -> None:
    """Empty the default cache. On Redis with a key prefix, only the keys under
    that prefix: Django's clear() is FLUSHDB, which would also empty the caches
    of the other test processes (pytest-xdist workers, tests/parallel.py) and
    deployments sharing the database."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not (isinstance(backend, RedisCache) and backend.key_prefix):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", backend.key_prefix) + ":*"
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


# Production's hasher (Argon2, config/settings.py) costs ~0.17 s for each password
# set and each one checked: most tests build an Owner with a password and sign in,
# and the suite spent minutes in it. Tests hash with MD5 and still read Argon2
# hashes; tests/security/test_deploy.py checks production keeps Argon2.
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = [FAST_HASHER, *(h for h in settings.PASSWORD_HASHERS if h != FAST_HASHER)]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit and sign-in throttle counters live in the cache (Redis under
    .ci/run); each test starts with none, whatever the tests before it sent."""
    clear_cache()


@pytest.fixture
def redis_cache(settings):
    """The default cache on the test Redis (REDIS_URL) under a key prefix of this
    test's own, for tests marked `redis`; yields a plain client on the same
    server and deletes the test's keys afterwards."""
    import uuid

    import redis

    url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    direct = redis.Redis.from_url(url)
    yield direct
    for key in direct.scan_iter(f"{prefix}:*"):
        direct.delete(key)
    direct.close()


@pytest.fixture(autouse=True)
def _activity_written_at_once(request, settings):
    """Successful reads reach the activity list in batches (scim.activity); tests
    read the list right after a call, so each is written at once unless the
    test is about the batching (marker `activity_batching`). Refused calls keep
    their coalescing, with a window no test outlives: a test that reads them
    calls scim.activity.flush() (or opens the SCIM tab), and what a test left
    waiting is forgotten, never written into the next one."""
    from scim import activity

    if request.node.get_closest_marker("activity_batching") is None:
        settings.SCIM_ACTIVITY_READ_BATCH = 1
    settings.SCIM_ACTIVITY_FAILURE_WINDOW = 3600
    yield
    activity.discard()


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Tasks run eagerly unless the test asked for a real worker."""
    from config.celery import app

    eager = request.node.get_closest_marker("celery_worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process on the test database, for tests marked celery_worker."""
    reason = _missing("celery_worker")
    if reason:
        pytest.skip(reason)
    # A node name of this process's own: under pytest-xdist each test process
    # starts a worker on the same broker, and the ping below must hear this one.
    node = f"orgdesk-test-{os.getpid()}@{socket.gethostname()}"
    proc, log = workers.start(
        ["-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-c", "2", "-n", node], workers.worker_env(),
        "celery-test-worker.log",
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Celery worker exited early; see {log.name}")
        if app.control.ping(destination=[node], timeout=1):
            break
    else:
        proc.terminate()
        pytest.fail("Celery worker did not answer a ping within 60 s")
    yield proc
    workers.stop(proc, log)


@pytest.fixture
def browser_page(monkeypatch):
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    # Playwright's sync API runs an event loop; set only for this test, so no
    # subprocess started later (e.g. `check --deploy`) inherits it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()
        # Inside Playwright's sync API Django opens a second DB connection (its
        # greenlets have their own contextvars); close it, or PostgreSQL refuses
        # to drop the test database ("being accessed by other users").
        from django.db import connections

        connections.close_all()


@pytest.fixture
def org(db):
    return builders.make_org("Acme")


@pytest.fixture
def other_org(db):
    return builders.make_org("Globex")


@pytest.fixture
def owner(org):
    return builders.owner_of(org)


@pytest.fixture
def scim_org(org):
    """The org with SCIM switched on: the flag alone, nothing installed."""
    org.scim_enabled = True
    org.save(update_fields=["scim_enabled"])
    return org


@pytest.fixture
def admin_member(org):
    return builders.make_member(org, "admin@acme.example", role="admin")


@pytest.fixture
def plain_member(org):
    return builders.make_member(org, "member@acme.example")


@pytest.fixture
def owner_client(client, owner):
    """A test client signed in as the Owner of `org`."""
    client.force_login(owner.user)
    return client
