"""Who must enrol before anything else opens: a password sign-in of an operator
(superuser), or of a member of an org that requires two-factor authentication,
whose account has no confirmed device. Decided once per password sign-in (the
user_logged_in signal, and the password confirmation of an SSO session) and kept
in the session (ENROL_KEY); EnrolmentRequiredMiddleware then sends every page
but enrolment and sign-out there, so checking costs no query per request.
SSO sign-ins are exempt: the org's IdP does its own MFA."""
from __future__ import annotations

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from organizations.signin.sessions import PASSWORD_BACKEND, SignInState

from . import services

ENROL_KEY = "orgdesk_mfa_enrol"  # reasons this password session must enrol first


def note_password_signin(request: HttpRequest, user) -> None:
    """This session now holds the account's password: must it enrol first?"""
    reasons = services.enrolment_reasons(user)
    if reasons:
        request.session[ENROL_KEY] = reasons
    else:
        request.session.pop(ENROL_KEY, None)


def on_user_logged_in(sender, request: HttpRequest, user, **kwargs) -> None:
    """After sessions.on_user_logged_in (connected first): a session that holds the
    password, made now or kept from before (an IdP sign-in to another org keeps
    it), is judged again; an SSO-only session is never asked."""
    if request is None or getattr(request, "session", None) is None:
        return
    state = SignInState.of(request)
    if request.session.get(BACKEND_SESSION_KEY) == PASSWORD_BACKEND or (state is not None and state.password):
        note_password_signin(request, user)
    else:
        request.session.pop(ENROL_KEY, None)


def enrolled(request: HttpRequest) -> None:
    request.session.pop(ENROL_KEY, None)


def _allowed_paths() -> tuple[str, ...]:
    return (reverse("mfa_manage"), reverse("signout"), reverse("admin:logout"))


class EnrolmentRequiredMiddleware:
    """After MembershipSessionMiddleware. A session that must enrol is sent to the
    enrolment page (which says why) for anything else; the API answers 403."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(SESSION_KEY) is not None
            and session.get(ENROL_KEY)
            and request.user.is_authenticated
            and not request.path.startswith(_allowed_paths())
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Set up two-factor authentication first."}, status=403)
            return HttpResponseRedirect(reverse("mfa_manage"))
        return self.get_response(request)
