"""What a browser session has proven, and which organizations it may open.

A session records how it was signed in (docs/ARCHITECTURE.md, "Identity"):

- **password**: the account's own password (the sign-in form, the password
  confirmation page, or a password just chosen through an invitation link).
  It opens every org that allows passwords to this person (not an org in SSO
  Strict mode, unless they are its Owner: the break-glass path). Operator
  (superuser) rights come only with it.
- **sso**: the orgs whose identity provider signed this session in, each with
  the time it did. It opens those orgs only, until the org's session timeout.

Opening another org asks for that org's own sign-in (`SignInRequired`): its
IdP, or the password where it allows passwords. Which login() made the
session is read from the authentication backend Django records
(organizations.backends): a login() call must name its backend, so no new
way in can get password rights by accident."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, logout
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from rest_framework.authentication import SessionAuthentication

from organizations import audit
from organizations.audit_actions import ACCOUNT_SIGNIN
from organizations.models import Membership, Organization, OrgRole

from .access import enabled_sso, requires_sso

AUTH_KEY = "orgdesk_auth"
PROOF_KEY = "orgdesk_proven"  # [user id, epoch]: this browser proved it holds that account
PASSWORD_BACKEND = "organizations.backends.EmailBackend"
SSO_BACKEND = "organizations.backends.SsoBackend"
PROOF_SECONDS = 30 * 60


@dataclass
class SignInState:
    user_id: int | None = None
    password: bool = False
    sso: dict[int, float] = field(default_factory=dict)  # org id -> when its IdP signed this session in

    @classmethod
    def of(cls, request: HttpRequest) -> "SignInState | None":
        session = getattr(request, "session", None)
        raw = session.get(AUTH_KEY) if session is not None else None
        if not raw:
            return None
        return cls(
            user_id=raw.get("user"),
            password=bool(raw.get("password")),
            sso={int(k): float(v) for k, v in (raw.get("sso") or {}).items()},
        )

    def save(self, request: HttpRequest) -> None:
        request.session[AUTH_KEY] = {
            "user": self.user_id,
            "password": self.password,
            "sso": {str(k): v for k, v in self.sso.items()},
        }


def on_user_logged_in(sender, request: HttpRequest, user, **kwargs) -> None:
    """Subscriber of django.contrib.auth's user_logged_in: a new person starts
    from nothing; the same person signing in again keeps what the session had
    proven (an SSO sign-in to a second org keeps the password, and the reverse)."""
    if request is None or getattr(request, "session", None) is None:
        return
    state = SignInState.of(request)
    if state is None or state.user_id != user.pk:
        state = SignInState(user_id=user.pk)
    if request.session.get(BACKEND_SESSION_KEY) == PASSWORD_BACKEND:
        state.password = True
    state.save(request)


# Orgs whose audit log records one password sign-in; an account in more orgs
# (rare: a consultant) has its first ones recorded, never an unbounded write.
SIGNIN_AUDIT_ORGS = 50


def record_password_signin(sender, request: HttpRequest, user, **kwargs) -> None:
    """Subscriber of user_logged_in: a password sign-in (the sign-in form, its
    two-factor step, or an accepted invitation) is in the audit log of every org
    that password opens for the person (in effect, and not in Strict mode for
    them), as "account.signin", so an org's Audit log > Sign-ins lists its
    members' password sign-ins next to its IdP's (sso.signin, sso.signin_refused,
    sso.link). Failed password sign-ins stay account-wide (organization None):
    a wrong password names no org, and an org must not learn of guesses at an
    account that only belongs to it among others."""
    if request is None or getattr(request, "session", None) is None:
        return
    if request.session.get(BACKEND_SESSION_KEY) != PASSWORD_BACKEND:
        return

    strict = Q(organization__sso__enabled=True, organization__sso__strict=True, sso_exempt=False) & ~Q(role=OrgRole.OWNER)
    memberships = list(
        Membership.objects.in_effect().filter(user=user).exclude(strict).select_related("organization")
        .order_by("pk")[:SIGNIN_AUDIT_ORGS]
    )
    audit.bulk_record([
        audit.build_event(
            m.organization, user, ACCOUNT_SIGNIN, target_type=Membership._meta.label_lower, target_id=str(m.pk),
            target_label=user.email,
        )
        for m in memberships
    ])


def add_sso_org(request: HttpRequest, organization: Organization) -> None:
    """Called by the ACS after login(): this org's IdP vouched for the session."""
    state = SignInState.of(request) or SignInState(user_id=request.user.pk)
    state.sso[organization.pk] = time.time()
    state.save(request)


def confirm_password(request: HttpRequest) -> None:
    """The person typed their password in this signed-in session."""
    state = SignInState.of(request) or SignInState(user_id=request.user.pk)
    state.password = True
    state.save(request)


def remember_proof(request: HttpRequest, user_id: int) -> None:
    """This browser proved it holds the account (it accepted an invitation sent
    to its address): an IdP sign-in in the same browser soon after may link it."""
    request.session[PROOF_KEY] = [user_id, time.time()]


def proven_user_id(request: HttpRequest) -> int | None:
    raw = request.session.get(PROOF_KEY)
    if not raw or time.time() - raw[1] > PROOF_SECONDS:
        return None
    return int(raw[0])


def _is_token_request(request) -> bool:
    """A REST API call authenticated by a credential it carries (a DRF token the
    person was issued, like their password), not by a browser session."""
    authenticator = getattr(request, "successful_authenticator", None)
    return authenticator is not None and not isinstance(authenticator, SessionAuthentication)


def allows_password(organization: Organization, role: str, *, exempt: bool = False) -> bool:
    """An org lets this member in with a password unless it is in SSO Strict mode
    (its Owner keeps the password: the break-glass path; the Owner may also exempt
    named members: Membership.sso_exempt)."""
    return role == OrgRole.OWNER or exempt or not requires_sso(organization)


class SignInRequired(Exception):
    """This session may not open the org yet: it needs the org's own sign-in,
    through its IdP (via="idp") or the account's password (via="password")."""

    def __init__(self, organization: Organization, via: str):
        super().__init__(organization.name)
        self.organization, self.via = organization, via

    @property
    def message(self) -> str:
        if self.via == "idp":
            return f"{self.organization.name} requires signing in through its identity provider."
        return f"{self.organization.name} asks for your password: confirm it to open the organization."


def check_can_open(request: HttpRequest, organization: Organization, role: str, *, exempt: bool = False) -> None:
    """Raise SignInRequired unless this session (or API token) may open the org,
    in which the person holds `role` (an in-effect membership; `exempt`: its
    Strict mode exception)."""
    if _is_token_request(request):
        if allows_password(organization, role, exempt=exempt):
            return
        raise SignInRequired(organization, "idp")
    state = SignInState.of(request)
    if state is not None and organization.pk in state.sso:
        return
    if state is not None and state.password and allows_password(organization, role, exempt=exempt):
        return
    sso = enabled_sso(organization)
    raise SignInRequired(organization, "idp" if sso is not None and sso.idp_configured else "password")


def openable(request: HttpRequest, prefix: str = "") -> Q:
    """A filter on memberships (or on a model reaching them through `prefix`)
    keeping the orgs this session may open."""
    state = SignInState.of(request) or SignInState()
    condition = Q(**{f"{prefix}organization_id__in": list(state.sso)})
    if state.password:
        condition |= Q(**{f"{prefix}role": OrgRole.OWNER}) | Q(**{f"{prefix}sso_exempt": True}) | ~Q(
            **{f"{prefix}organization__sso__enabled": True, f"{prefix}organization__sso__strict": True}
        )
    return condition


@dataclass
class Validity:
    valid: bool
    ended_sso_org: Organization | None = None  # an org whose SSO session timed out, ending the session


def check_session(request: HttpRequest) -> Validity:
    """On every signed-in request (MembershipSessionMiddleware): drop the orgs
    whose IdP sign-in timed out or which no longer count the person in; the
    session ends when nothing it proved still opens anything. One indexed query."""
    user = request.user
    state = SignInState.of(request)
    if not user.is_active or state is None or state.user_id != user.pk:
        return Validity(False)
    if user.is_superuser and not state.password:  # operators sign in with their password only
        return Validity(False)
    ended = None
    if state.sso:
        now = time.time()
        rows = (
            Membership.objects.in_effect()
            .filter(user=user, organization_id__in=list(state.sso), organization__sso__enabled=True)
            .values_list("organization_id", "organization__sso__session_timeout_minutes")
        )
        timeouts = dict(rows)
        keep = {
            org_id: at for org_id, at in state.sso.items()
            if org_id in timeouts and now - at < timeouts[org_id] * 60
        }
        if keep != state.sso:
            timed_out = [org_id for org_id in state.sso if org_id in timeouts and org_id not in keep]
            if timed_out:
                ended = Organization.objects.filter(pk=timed_out[0]).first()
            state.sso = keep
            state.save(request)
        if keep:
            return Validity(True)
    if state.password:
        alive = user.is_superuser or Membership.objects.in_effect().filter(user=user).exists()
        return Validity(alive, None if alive else ended)
    return Validity(False, ended)


ENDED_MESSAGE = "Your access has ended: you were deactivated or removed. Sign in again if you still belong to an organization."


class MembershipSessionMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware. Ends a session on its
    next request once nothing it proved still opens an org (deactivated or
    removed everywhere it was signed in for, or its IdP sign-in timed out: then
    the next page goes back through that IdP), and answers SignInRequired raised
    by the tenant gate. One indexed query per signed-in request; anonymous
    requests (the SCIM API) cost nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) is not None and request.user.is_authenticated:
            validity = check_session(request)
            if not validity.valid:
                # The request goes on anonymous: pages send it to sign-in, the API refuses it.
                logout(request)
                org = validity.ended_sso_org
                if org is None:
                    messages.warning(request, ENDED_MESSAGE)
                else:
                    messages.info(request, f"Your single sign-on session for {org.name} has ended. Sign in again.")
                    if request.method in ("GET", "HEAD"):
                        return HttpResponseRedirect(reverse("saml:login", args=[org.uid]))
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The tenant gate found that this session may not open the org yet: off to
        its IdP, or to the password confirmation."""
        if not isinstance(exception, SignInRequired):
            return None
        org = exception.organization
        messages.info(request, exception.message)
        if exception.via == "idp":
            return HttpResponseRedirect(reverse("saml:login", args=[org.uid]))
        return HttpResponseRedirect(f"{reverse('confirm_password')}?{urlencode({'next': request.get_full_path()})}")
