"""Admin sign-in throttling. After ADMIN_LOGIN_FAILURES_PER_ACCOUNT failed
attempts for one e-mail, or ADMIN_LOGIN_FAILURES_PER_ADDRESS from one client
address (request_context.client_address: through the trusted proxies only),
further attempts are refused (before the password is checked) for
ADMIN_LOGIN_LOCKOUT_SECONDS, counted from the first failure of the window.
Counters live in Django's cache (Redis when configured, so every process
shares them). A cache outage fails open: sign-in must keep working."""
from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .request_context import client_address

logger = logging.getLogger("orgdesk.auth")

KEY_PREFIX = "login-throttle"
THROTTLED_MESSAGE = (
    "Too many failed sign-in attempts. For your security, sign-in is paused; try again in {minutes} minute(s)."
)


def _account_key(username: str, prefix: str = KEY_PREFIX) -> str:
    # Hashed: the cache never holds the e-mail addresses people typed.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"{prefix}:account:{digest}"


def _address_key(request: HttpRequest | None, prefix: str = KEY_PREFIX) -> str | None:
    address = client_address(request) if request is not None else None
    return f"{prefix}:address:{address}" if address else None


def _limits() -> tuple[int, int, int]:
    return (
        settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT,
        settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS,
        settings.ADMIN_LOGIN_LOCKOUT_SECONDS,
    )


def _keys(request: HttpRequest | None, username: str | None, prefix: str = KEY_PREFIX) -> list[tuple[str, int]]:
    per_account, per_address, _ = _limits()
    keys = []
    if username and per_account > 0:
        keys.append((_account_key(username, prefix), per_account))
    address = _address_key(request, prefix)
    if address and per_address > 0:
        keys.append((address, per_address))
    return keys


def _until_key(key: str) -> str:
    return f"{key}:until"


def seconds_locked(request: HttpRequest | None, username: str | None, *, prefix: str = KEY_PREFIX) -> int:
    """0 when sign-in may be tried, else roughly how long it stays refused.
    `prefix` keeps separate counters for another flow with the same limits
    (password-reset requests)."""
    try:
        now = time.time()
        for key, limit in _keys(request, username, prefix):
            entry = cache.get_many([key, _until_key(key)])
            count, until = entry.get(key) or 0, entry.get(_until_key(key)) or 0
            if count >= limit and until > now:
                return max(1, math.ceil(until - now))
    except Exception:
        logger.warning("Sign-in throttling unavailable; allowing the attempt", exc_info=True)
    return 0


def record_failure(request: HttpRequest | None, username: str | None, *, prefix: str = KEY_PREFIX) -> None:
    """Count a failed attempt, atomically (parallel attempts must not overwrite
    each other's count). The window starts at the first failure and is not
    extended by later ones: the counter's expiry is set when it is created
    (incr keeps it), and its end is kept beside it for seconds_locked."""
    _, _, window = _limits()
    try:
        now = time.time()
        for key, _limit in _keys(request, username, prefix):
            if cache.add(key, 0, timeout=window):
                cache.set(_until_key(key), now + window, timeout=window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: a new window
                cache.set(key, 1, timeout=window)
                cache.set(_until_key(key), now + window, timeout=window)
        logger.info("Counted a failed %s attempt from %s", prefix, client_address(request) if request else "?")
    except Exception:
        logger.warning("Sign-in throttling unavailable; failure not counted", exc_info=True)


def record_success(username: str | None) -> None:
    """A correct password clears the account's counter (not the address's)."""
    if not username:
        return
    try:
        key = _account_key(username)
        cache.delete_many([key, _until_key(key)])
    except Exception:
        logger.warning("Sign-in throttling unavailable", exc_info=True)


class ThrottledLoginFormMixin:
    """For AuthenticationForm subclasses: refuse while throttled, count failures."""

    def clean(self):
        request = getattr(self, "request", None)
        username = (self.cleaned_data.get("username") or "") if hasattr(self, "cleaned_data") else ""
        locked = seconds_locked(request, username)
        if locked:
            raise ValidationError(
                THROTTLED_MESSAGE.format(minutes=max(1, math.ceil(locked / 60))), code="throttled"
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if getattr(self, "user_cache", None) is None:  # wrong credentials, not "no admin rights"
                record_failure(request, username)
            raise
        record_success(username)
        return cleaned


