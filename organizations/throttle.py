"""Admin sign-in throttling. After ADMIN_LOGIN_FAILURES_PER_ACCOUNT failed
attempts for one e-mail, or ADMIN_LOGIN_FAILURES_PER_ADDRESS from one client
address, further attempts are refused (before the password is checked) for
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

logger = logging.getLogger("orgdesk.auth")

KEY_PREFIX = "login-throttle"
THROTTLED_MESSAGE = (
    "Too many failed sign-in attempts. For your security, sign-in is paused; try again in {minutes} minute(s)."
)


def _account_key(username: str) -> str:
    # Hashed: the cache never holds the e-mail addresses people typed.
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:account:{digest}"


def _address_key(request: HttpRequest | None) -> str | None:
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    return f"{KEY_PREFIX}:address:{address}" if address else None


def _limits() -> tuple[int, int, int]:
    return (
        settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT,
        settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS,
        settings.ADMIN_LOGIN_LOCKOUT_SECONDS,
    )


def _keys(request: HttpRequest | None, username: str | None) -> list[tuple[str, int]]:
    per_account, per_address, _ = _limits()
    keys = []
    if username and per_account > 0:
        keys.append((_account_key(username), per_account))
    address = _address_key(request)
    if address and per_address > 0:
        keys.append((address, per_address))
    return keys


def seconds_locked(request: HttpRequest | None, username: str | None) -> int:
    """0 when sign-in may be tried, else roughly how long it stays refused."""
    try:
        for key, limit in _keys(request, username):
            entry = cache.get(key)
            if entry and entry[0] >= limit:
                return max(1, math.ceil(entry[1] - time.time()))
    except Exception:
        logger.warning("Sign-in throttling unavailable; allowing the attempt", exc_info=True)
    return 0


def record_failure(request: HttpRequest | None, username: str | None) -> None:
    """Count a failed attempt. Entries are (count, expires_at); the window starts
    at the first failure and is not extended by later ones."""
    _, _, window = _limits()
    try:
        now = time.time()
        for key, _limit in _keys(request, username):
            count, expires = cache.get(key) or (0, now + window)
            remaining = max(1, math.ceil(expires - now))
            cache.set(key, (count + 1, expires), timeout=remaining)
        logger.info("Failed admin sign-in from %s", request.META.get("REMOTE_ADDR") if request else "?")
    except Exception:
        logger.warning("Sign-in throttling unavailable; failure not counted", exc_info=True)


def record_success(username: str | None) -> None:
    """A correct password clears the account's counter (not the address's)."""
    if not username:
        return
    try:
        cache.delete(_account_key(username))
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


