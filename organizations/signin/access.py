"""Who may sign in, and the middleware that ends a session when that stops
being true.

Access to one org is decided on every request by the org's own gate (an active
membership with the right role), so a person deactivated in org A but active
in org B keeps B and loses A at once. The session itself ends when the person
has no active membership left, or when the org whose identity provider signed
them in (SESSION_SIGNIN_ORG, set by SSO sign-in) deactivates or removes them."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from organizations.models import MANAGER_ROLES, Membership, Organization, User

# Session key holding the id of the org that authenticated this session (SSO).
SESSION_SIGNIN_ORG = "orgdesk_signin_org"
ENDED_MESSAGE = "Your access has ended: you were deactivated or removed. Sign in again if you still belong to an organization."


def can_sign_in(user: User) -> bool:
    """An active account that is a superuser or an active member somewhere."""
    if not user.is_active:
        return False
    return user.is_superuser or Membership.objects.filter(user=user, active=True).exists()


def enabled_sso(organization: Organization):
    """The org's SSO settings if SSO is enabled, else None (a reverse one-to-one)."""
    try:
        sso = organization.sso
    except ObjectDoesNotExist:
        return None
    return sso if sso.enabled else None


def requires_sso(organization: Organization) -> bool:
    """SSO Strict mode: the org's members (but its Owner) sign in only through its IdP."""
    sso = enabled_sso(organization)
    return sso is not None and sso.strict


def sso_signin_available(organization: Organization) -> bool:
    """The org's identity provider can sign its members in (SSO set up and on)."""
    sso = enabled_sso(organization)
    return sso is not None and sso.idp_configured


def signin_refusal(membership: Membership) -> str | None:
    """Why the person behind this membership cannot sign in to act on its org
    (None: they can). They need an active membership and account, and a way in:
    a password of their own, or the org's single sign-on. A person the IdP
    provisioned who never accepted their invitation has neither."""
    email, org = membership.user.email, membership.organization
    if not membership.active:
        return f"{email} is deactivated in {org.name}."
    if not membership.user.is_active:
        return f"The account of {email} is disabled."
    if membership.user.has_usable_password() or sso_signin_available(org):
        return None
    return (
        f"{email} cannot sign in: they have no password yet (they have not accepted an invitation) "
        f"and {org.name} has no single sign-on."
    )


def managers_who_can_sign_in(organization: Organization) -> QuerySet[Membership]:
    """Active Owners and Admins of the org who can sign in: the people who can
    actually run it. Read through the (organization, role, active) index, so its
    cost does not grow with the org's members."""
    managers = Membership.objects.filter(
        organization=organization, role__in=MANAGER_ROLES, active=True, user__is_active=True
    )
    if sso_signin_available(organization):
        return managers
    return managers.exclude(user__password__startswith=UNUSABLE_PASSWORD_PREFIX)


def session_still_valid(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_active:
        return False
    org_id = request.session.get(SESSION_SIGNIN_ORG)
    if org_id is not None:  # signed in through that org: it must still count them in
        return Membership.objects.filter(user=user, organization_id=org_id, active=True).exists()
    return user.is_superuser or Membership.objects.filter(user=user, active=True).exists()


class MembershipSessionMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware. One indexed query per
    signed-in request; anonymous requests (the SCIM API) cost nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) is not None and request.user.is_authenticated:
            if not session_still_valid(request):
                # The request goes on anonymous: pages send it to sign-in, the API refuses it.
                logout(request)
                messages.warning(request, ENDED_MESSAGE)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An org in SSO Strict mode opened from a session its IdP did not sign in
        (organizations.permissions.get_managed_org_or_404): off to its IdP."""
        from organizations.permissions import SignInThroughIdpRequired

        if not isinstance(exception, SignInThroughIdpRequired):
            return None
        org = exception.organization
        messages.info(request, f"{org.name} requires signing in through its identity provider: sign in there to manage it.")
        return HttpResponseRedirect(reverse("saml:login", args=[org.uid]))
