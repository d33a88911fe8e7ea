"""Sign-in throttling that cannot lock anyone out (docs/ARCHITECTURE.md,
"Sign-in throttling").

Failed admin sign-ins are counted in Django's cache (Redis when configured, so
every process shares them), each counter for ADMIN_LOGIN_LOCKOUT_SECONDS from
its first failure, and checked before the password is:

- per (account, client address) pair: ADMIN_LOGIN_FAILURES_PER_ACCOUNT failures
  pause that pair for the window. Only that pair: the right password from
  another address still signs in, so a guesser cannot lock the Owner out.
- per client address (request_context.client_address: through the trusted
  proxies only): ADMIN_LOGIN_FAILURES_PER_ADDRESS failures, an address guessing
  many accounts, pause the address.
- per account, across addresses (one account guessed from many addresses):
  past ADMIN_LOGIN_FAILURES_PER_ACCOUNT failures each further failure sets a
  "next allowed" time 1, 2, 4 ... seconds ahead, at most
  ADMIN_LOGIN_MAX_DELAY_SECONDS: a growing delay, never a lockout. A browser
  that signed in to the account before (a signed cookie naming the account)
  skips it, so the Owner in their usual browser is never stopped by an
  attacker elsewhere.

Whatever depends on the account existing (its audit row, the e-mail to the
holder once per window) runs after the response (organizations.after_response),
so a failed attempt answers alike for every address typed.

Other flows (password-reset requests, "Sign in with SSO" by e-mail) count
requests per key and per address under a prefix of their own with
`seconds_locked` and `record_failure`. A cache outage fails open: sign-in must
keep working."""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from organizations import audit
from organizations.after_response import after_response
from organizations.audit_actions import ACCOUNT_SIGNIN_DELAYED, ACCOUNT_SIGNIN_FAILED, ACCOUNT_SIGNIN_THROTTLED
from organizations.background import enqueue
from organizations.request_context import client_address
from organizations.services import find_account

from .tasks import send_signin_alert_email

logger = logging.getLogger("orgdesk.auth")

KEY_PREFIX = "login-throttle"
PAUSED_MESSAGE = (
    "Too many failed sign-in attempts. For your security, sign-in is paused; try again in {minutes} minute(s)."
)
THROTTLED_MESSAGE = PAUSED_MESSAGE  # the name other flows knew it by
DELAYED_MESSAGE = (
    "Too many failed sign-in attempts for this account. For your security, try again in {seconds} second(s)."
)

# The known-browser cookie: signed (its own salt), HttpOnly, renewed at each sign-in.
TRUSTED_COOKIE = "orgdesk_known_browser"
# The salt keeps the module's first name: a new one would void every cookie already given.
TRUSTED_SALT = "organizations.throttle.trusted-browser"
TRUSTED_DAYS = 90
TRUSTED_MAX_ACCOUNTS = 5  # accounts one browser is known to (a shared desk)
_SIGNED_IN_ATTR = "_orgdesk_signed_in_account"


def _digest(username: str) -> str:
    # Hashed: the cache never holds the e-mail addresses people typed.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _account_key(username: str, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:account:{_digest(username)}"


def _address_key(request: HttpRequest | None, prefix: str = KEY_PREFIX) -> str | None:
    address = client_address(request) if request is not None else None
    return f"{prefix}:address:{address}" if address else None


def _pair_key(request: HttpRequest | None, username: str) -> str | None:
    address = client_address(request) if request is not None else None
    return f"{KEY_PREFIX}:pair:{_digest(username)}:{address}" if address else None


def _until_key(key: str) -> str:
    return f"{key}:until"


def _next_key(account_key: str) -> str:
    return f"{account_key}:next"


def _limits() -> tuple[int, int, int]:
    return (
        settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT,
        settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS,
        settings.ADMIN_LOGIN_LOCKOUT_SECONDS,
    )


def _count(key: str, window: int, now: float) -> int:
    """Count one more, atomically (parallel attempts must not overwrite each
    other's count). The window starts at the first failure and is not extended
    by later ones: the counter's expiry is set when it is created (incr keeps
    it), and its end is kept beside it for the checks."""
    if cache.add(key, 0, timeout=window):
        cache.set(_until_key(key), now + window, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(key, 1, timeout=window)
        cache.set(_until_key(key), now + window, timeout=window)
        return 1


def _paused_for(entry: dict, key: str | None, limit: int, now: float) -> float:
    if key is None or limit <= 0:
        return 0
    count, until = entry.get(key) or 0, entry.get(_until_key(key)) or 0
    return until - now if count >= limit and until > now else 0


# ---- other flows: per key and per address ---------------------------------------


def _keys(request: HttpRequest | None, key: str | None, prefix: str) -> list[tuple[str, int]]:
    per_key, per_address, _ = _limits()
    keys = []
    if key and per_key > 0:
        keys.append((_account_key(key, prefix), per_key))
    address = _address_key(request, prefix)
    if address and per_address > 0:
        keys.append((address, per_address))
    return keys


def seconds_locked(request: HttpRequest | None, key: str | None, *, prefix: str) -> int:
    """0 when the request may be made, else roughly how long it stays refused:
    `key` (an e-mail) reached ADMIN_LOGIN_FAILURES_PER_ACCOUNT or the address
    ADMIN_LOGIN_FAILURES_PER_ADDRESS within the window. For flows that must
    not be repeated without end (password-reset requests, SSO sign-in links),
    counted apart from sign-in failures by `prefix`."""
    try:
        now = time.time()
        for counter, limit in _keys(request, key, prefix):
            entry = cache.get_many([counter, _until_key(counter)])
            paused = _paused_for(entry, counter, limit, now)
            if paused:
                return max(1, math.ceil(paused))
    except Exception:
        logger.warning("Throttling unavailable; allowing the %s request", prefix, exc_info=True)
    return 0


def record_failure(request: HttpRequest | None, key: str | None, *, prefix: str) -> None:
    """Count one request of such a flow, per key and per address."""
    _, _, window = _limits()
    try:
        now = time.time()
        for counter, _limit in _keys(request, key, prefix):
            _count(counter, window, now)
    except Exception:
        logger.warning("Throttling unavailable; %s request not counted", prefix, exc_info=True)


def record_success(key: str | None, *, prefix: str = KEY_PREFIX) -> None:
    """Clear the count of `key` under `prefix` (not its address's). Under the
    sign-in prefix that is the account-wide failure count, whose delay already
    set stays: use record_signin_success for a sign-in."""
    if not key:
        return
    try:
        counter = _account_key(key, prefix)
        cache.delete_many([counter, _until_key(counter)])
    except Exception:
        logger.warning("Throttling unavailable", exc_info=True)


# ---- admin sign-in ----------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before its password is checked."""

    seconds: int
    delayed: bool  # the account-wide delay; else the pair or the address is paused

    def message(self) -> str:
        if self.delayed:
            return DELAYED_MESSAGE.format(seconds=self.seconds)
        return PAUSED_MESSAGE.format(minutes=max(1, math.ceil(self.seconds / 60)))


@dataclass(frozen=True)
class Failure:
    """What one failed attempt counted (0 when the cache was unavailable)."""

    account_failures: int = 0  # for the account, from every address, this window
    pair_failures: int = 0  # for the account from this address
    paused: bool = False  # this failure paused the pair
    delay: int = 0  # seconds this failure set the account-wide delay to


def signin_refusal(request: HttpRequest | None, username: str | None) -> Refusal | None:
    """None when this attempt may have its password checked. One cache read."""
    per_account, per_address, _ = _limits()
    try:
        now = time.time()
        pair = _pair_key(request, username) if username and per_account > 0 else None
        address = _address_key(request) if per_address > 0 else None
        account = _account_key(username) if username and per_account > 0 else None
        wanted = [k for key in (pair, address) if key for k in (key, _until_key(key))]
        if account:
            wanted.append(_next_key(account))
        entry = cache.get_many(wanted)
        paused = max(_paused_for(entry, pair, per_account, now), _paused_for(entry, address, per_address, now))
        if paused:
            return Refusal(max(1, math.ceil(paused)), delayed=False)
        wait = (entry.get(_next_key(account)) or 0) - now if account else 0
    except Exception:
        logger.warning("Sign-in throttling unavailable; allowing the attempt", exc_info=True)
        return None
    if wait > 0 and not is_trusted_browser(request, username):
        return Refusal(max(1, math.ceil(wait)), delayed=True)
    return None


def delay_after(account_failures: int) -> int:
    """The account-wide delay after this many failures: 1, 2, 4 ... seconds from
    the threshold on, at most ADMIN_LOGIN_MAX_DELAY_SECONDS."""
    per_account = settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT
    if per_account <= 0 or account_failures < per_account:
        return 0
    return max(1, min(2 ** min(account_failures - per_account, 30), settings.ADMIN_LOGIN_MAX_DELAY_SECONDS))


def record_signin_failure(request: HttpRequest | None, username: str | None) -> Failure:
    """Count a wrong password (per address, per pair, per account) and schedule
    the account's bookkeeping for after the response."""
    per_account, per_address, window = _limits()
    failure = Failure()
    try:
        now = time.time()
        address = _address_key(request) if per_address > 0 else None
        if address:
            _count(address, window, now)
        if username and per_account > 0:
            pair = _pair_key(request, username)
            pair_failures = _count(pair, window, now) if pair else 0
            account = _account_key(username)
            account_failures = _count(account, window, now)
            delay = delay_after(account_failures)
            if delay:
                cache.set(_next_key(account), now + delay, timeout=delay + 1)
            failure = Failure(account_failures, pair_failures, pair_failures >= per_account, delay)
        logger.info("Counted a failed sign-in from %s", client_address(request) if request else "?")
    except Exception:
        logger.warning("Sign-in throttling unavailable; failure not counted", exc_info=True)
    if username:
        after_response(account_failed, username, failure, client_address(request) if request else "")
    return failure


def account_failed(username: str, failure: Failure, address: str) -> None:
    """After the response: the audit row of a failure (one INSERT; nothing at
    all for an address that has no account), and the e-mail to the account
    holder once per window when the failures reach the per-account threshold."""
    user = find_account(username)
    if user is None:
        return
    after: dict = {"failures": failure.account_failures, "from_this_address": failure.pair_failures}
    if failure.paused:
        action = ACCOUNT_SIGNIN_THROTTLED
        after["paused_minutes"] = max(1, math.ceil(settings.ADMIN_LOGIN_LOCKOUT_SECONDS / 60))
    elif failure.delay:
        action = ACCOUNT_SIGNIN_DELAYED
    else:
        action = ACCOUNT_SIGNIN_FAILED
    if failure.delay:
        after["delay_seconds"] = failure.delay
    audit.record(None, user, action, user, after=after)
    per_account, _, window = _limits()
    if user.is_active and per_account > 0 and failure.account_failures >= per_account:
        _alert_once(user.pk, failure.account_failures, address, window)


def _alert_once(user_id: int, failures: int, address: str, window: int) -> None:
    try:
        first = cache.add(f"{KEY_PREFIX}:alerted:{user_id}", 1, timeout=window)
    except Exception:
        logger.warning("Sign-in throttling unavailable; no sign-in alert", exc_info=True)
        return
    if first:
        enqueue(send_signin_alert_email, user_id, failures, timezone.now().isoformat(), address)


def record_signin_success(request: HttpRequest | None, username: str | None) -> None:
    """The right password clears the failures of this account from this address.
    Not the account-wide count: a success here says nothing about the guesses
    made elsewhere, and clearing it would give them a fresh allowance."""
    if not username or request is None:
        return
    try:
        pair = _pair_key(request, username)
        if pair:
            cache.delete_many([pair, _until_key(pair)])
    except Exception:
        logger.warning("Sign-in throttling unavailable", exc_info=True)


# ---- known browsers ----------------------------------------------------------------


def trusted_accounts(request: HttpRequest | None) -> list[int]:
    """Ids of the accounts this browser signed in to (within TRUSTED_DAYS)."""
    raw = request.COOKIES.get(TRUSTED_COOKIE) if request is not None else None
    if not raw:
        return []
    try:
        ids = signing.loads(raw, salt=TRUSTED_SALT, max_age=timedelta(days=TRUSTED_DAYS))
    except signing.BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def is_trusted_browser(request: HttpRequest | None, username: str | None) -> bool:
    """Whether this browser signed in to the account `username` names before.
    A query only for a browser that has the cookie, while a delay is on."""
    ids = trusted_accounts(request)
    if not ids or not username:
        return False
    user = find_account(username)
    return user is not None and user.pk in ids


def on_user_logged_in(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    """Receiver of user_logged_in (password, SSO or invitation): the response
    will make this browser known to the account (TrustedBrowserMiddleware)."""
    if request is not None and user is not None:
        setattr(request, _SIGNED_IN_ATTR, user.pk)


def remember_browser(request: HttpRequest, response: HttpResponse, user_id: int) -> None:
    ids = [i for i in trusted_accounts(request) if i != user_id][-(TRUSTED_MAX_ACCOUNTS - 1):] + [user_id]
    response.set_cookie(
        TRUSTED_COOKIE,
        signing.dumps(ids, salt=TRUSTED_SALT),
        max_age=TRUSTED_DAYS * 24 * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class TrustedBrowserMiddleware:
    """Sets the known-browser cookie on the response of a successful sign-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user_id = getattr(request, _SIGNED_IN_ATTR, None)
        if user_id is not None:
            remember_browser(request, response, user_id)
        return response


class ThrottledLoginFormMixin:
    """For AuthenticationForm subclasses: refuse while paused or delayed, count failures."""

    def clean(self):
        request = getattr(self, "request", None)
        username = (self.cleaned_data.get("username") or "") if hasattr(self, "cleaned_data") else ""
        refusal = signin_refusal(request, username)
        if refusal:
            raise ValidationError(refusal.message(), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            if getattr(self, "user_cache", None) is None:  # wrong credentials, not "no admin rights"
                record_signin_failure(request, username)
            raise
        record_signin_success(request, username)
        return cleaned
