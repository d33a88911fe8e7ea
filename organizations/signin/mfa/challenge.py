"""The second step of a password sign-in (and of confirming the password in a
signed-in session) for an account with two-factor authentication.

After the correct password the session is not signed in: it holds only the
pending step (PENDING_KEY: user id, time, where to go next, what for), valid
MFA_CHALLENGE_SECONDS. A valid TOTP or recovery code then calls login() with the
password backend (organizations.signin.sessions.PASSWORD_BACKEND), or, for the
password confirmation, sessions.confirm_password."""
from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from organizations.models import User

from . import services

PENDING_KEY = "orgdesk_mfa_pending"
SIGN_IN = "sign-in"
CONFIRM = "confirm"


class SecondFactorRequired(Exception):
    """Raised by the sign-in form (organizations.signin.forms.OrgdeskAuthenticationForm.get_user)
    instead of handing over an account whose password was right but which has
    two-factor on; OrgdeskAdminSite.login answers it with `begin`."""

    def __init__(self, user: User):
        super().__init__(user.email)
        self.user = user


def require_second_factor(user: User | None) -> None:
    if user is not None and services.has_mfa(user):
        raise SecondFactorRequired(user)


def safe_next(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, require_https=request.is_secure()):
        return candidate
    return default


def begin(request: HttpRequest, user: User, *, purpose: str = SIGN_IN, next_url: str | None = None) -> HttpResponse:
    """The password was right: remember the pending step and ask for the code."""
    if next_url is None:
        next_url = safe_next(request, reverse("admin:index"))
    request.session[PENDING_KEY] = {"user": user.pk, "at": time.time(), "next": next_url, "purpose": purpose}
    return HttpResponseRedirect(reverse("mfa_challenge"))


def pending(request: HttpRequest) -> dict | None:
    """The pending step, if it has not expired (an expired one is dropped)."""
    raw = request.session.get(PENDING_KEY)
    if not raw:
        return None
    if time.time() - float(raw.get("at") or 0) > settings.MFA_CHALLENGE_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    if raw.get("purpose") == CONFIRM and (not request.user.is_authenticated or request.user.pk != raw.get("user")):
        request.session.pop(PENDING_KEY, None)
        return None
    return raw


def finish(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
