"""Who may sign in at all, and what an org's single sign-on settings mean for it.

Access to one org is decided on every request by the org's own gate (an active
membership with the right role, opened by a session that may open it:
organizations.signin.sessions), so a person deactivated in org A but active in
org B keeps B and loses A at once."""
from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet

from organizations.models import MANAGER_ROLES, Membership, Organization, OrgRole, User


def can_sign_in(user: User) -> bool:
    """An active account that is a superuser or an active member somewhere."""
    if not user.is_active:
        return False
    return user.is_superuser or Membership.objects.in_effect().filter(user=user).exists()


def may_choose_password(user: User) -> bool:
    """An account with no password yet may choose one through "Forgot password"
    when it is in effect in an org that lets it sign in with a password: any org
    but those in SSO Strict mode where it is neither the Owner nor an exception
    (the rule of saml.policy.password_signin_refusal). Only memberships count:
    an operator account without a password stays without one."""
    if not user.is_active:
        return False
    strict = Q(organization__sso__enabled=True, organization__sso__strict=True, sso_exempt=False) & ~Q(role=OrgRole.OWNER)
    return Membership.objects.in_effect().filter(user=user).exclude(strict).exists()


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
    if membership.pending:
        return f"{email} has been invited to {org.name} and has not joined yet."
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
    managers = Membership.objects.in_effect().filter(
        organization=organization, role__in=MANAGER_ROLES, user__is_active=True
    )
    if sso_signin_available(organization):
        return managers
    return managers.exclude(user__password__startswith=UNUSABLE_PASSWORD_PREFIX)
