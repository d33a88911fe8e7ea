"""How long a signed-in session lasts: it ends after SESSION_IDLE_TIMEOUT seconds
without a request, and SESSION_ABSOLUTE_LIFETIME seconds after sign-in whatever
the activity (config/settings.py; docs/ARCHITECTURE.md, "Sessions and headers").

Two timestamps of our own live in the session: when it signed in (set by the
`user_logged_in` signal, or the first time a session from before this module is
seen) and when it was last seen. The last-seen time is rewritten at most once
per SEEN_RESOLUTION seconds, so a busy session is not written to the session
store on every request; an idle session therefore ends up to that much later
than the timeout, which is immaterial at hours."""
from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

STARTED_KEY = "orgdesk_started"
SEEN_KEY = "orgdesk_seen"
# Seconds between two writes of SEEN_KEY for one session.
SEEN_RESOLUTION = 60


def now() -> int:
    """Seconds since the epoch; the one clock of this module (tests move it)."""
    return int(time.time())


def stamp_sign_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """`user_logged_in` receiver (OrganizationsConfig.ready): the lifetime counts
    from this sign-in, not from an earlier anonymous session (login() has already
    cycled the session key)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[STARTED_KEY] = session[SEEN_KEY] = now()


def _duration(seconds: int) -> str:
    """12 hours, 14 days, 30 minutes: the largest whole unit that fits."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def idle_message(idle_timeout: int) -> str:
    return f"Your session ended after {_duration(idle_timeout)} of inactivity; sign in again."


def expired_message(lifetime: int) -> str:
    return f"Your session expired {_duration(lifetime)} after you signed in; sign in again."


def ended_because(session, at: int) -> str | None:
    """Why this signed-in session is over (the message to show), or None. Also
    keeps the timestamps: stamps a session that has none, refreshes SEEN_KEY once
    per SEEN_RESOLUTION."""
    started = session.get(STARTED_KEY)
    if started is None:  # signed in before this check existed: count from now
        session[STARTED_KEY] = session[SEEN_KEY] = at
        return None
    seen = session.get(SEEN_KEY, started)
    lifetime = settings.SESSION_ABSOLUTE_LIFETIME
    if at - started > lifetime:
        return expired_message(lifetime)
    idle_timeout = settings.SESSION_IDLE_TIMEOUT
    if at - seen > idle_timeout:
        return idle_message(idle_timeout)
    if at - seen >= SEEN_RESOLUTION:
        session[SEEN_KEY] = at
    return None


class SessionLifetimeMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware, before
    MembershipSessionMiddleware (no membership query for a session that is over).
    A request without a signed-in session (anonymous pages, the SCIM API) reads
    nothing: with no session cookie, `session.get` does not touch the store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) is not None:
            reason = ended_because(session, now())
            if reason is not None:
                # The request goes on anonymous: pages send it to sign-in, the API refuses it.
                logout(request)
                messages.info(request, reason)
        return self.get_response(request)
