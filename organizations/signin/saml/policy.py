"""Strict mode: members of an org with SSO enabled and Strict mode on sign in
only through its identity provider. The org's Owner keeps the password (the
break-glass path when the IdP is down). Every password sign-in form asks
`password_signin_refusal` before letting an account in."""
from __future__ import annotations

from organizations.models import Membership, OrgRole, User


STRICT_MESSAGE = (
    "{org} requires signing in through its identity provider. Use “Sign in with SSO” with the sign-in name “{name}”."
)


def password_signin_refusal(user: User) -> str | None:
    """None if this account may sign in with a password, else why not."""
    if user.is_superuser:
        return None
    strict = (
        Membership.objects.filter(user=user, active=True, organization__sso__enabled=True, organization__sso__strict=True)
        .exclude(role=OrgRole.OWNER)
        .select_related("organization", "organization__sso")
        .first()
    )
    if strict is None:
        return None
    return STRICT_MESSAGE.format(org=strict.organization.name, name=strict.organization.sso.signin_name)
