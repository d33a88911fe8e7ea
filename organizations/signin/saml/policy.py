"""Strict mode: members of an org with SSO enabled and Strict mode on sign in
only through its identity provider. The org's Owner keeps the password (the
break-glass path when the IdP is down). Every password sign-in form asks
`password_signin_refusal` before letting an account in; which orgs a password
session then opens is organizations.signin.sessions' rule."""
from __future__ import annotations

from django.db.models import Q

from organizations.models import Membership, OrgRole, User


STRICT_MESSAGE = (
    "{org} requires signing in through its identity provider. Use \"Sign in with SSO\" with the sign-in name \"{name}\"."
)


def password_signin_refusal(user: User) -> str | None:
    """None if this account may sign in with a password, else why not. A password
    session opens only the orgs that allow passwords to this person
    (organizations.signin.sessions), so it is refused only when every org they
    belong to is in Strict mode for them: then the password would open nothing."""
    if user.is_superuser:
        return None
    strict = Q(organization__sso__enabled=True, organization__sso__strict=True, sso_exempt=False) & ~Q(role=OrgRole.OWNER)
    memberships = Membership.objects.in_effect().filter(user=user)
    if memberships.exclude(strict).exists():
        return None
    only_strict = memberships.select_related("organization", "organization__sso").first()
    if only_strict is None:
        return None  # no org at all: can_sign_in says so
    return STRICT_MESSAGE.format(org=only_strict.organization.name, name=only_strict.organization.sso.signin_name)
