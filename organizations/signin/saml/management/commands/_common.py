"""Shared by sso_configure and sso_disable: ORG_UID and an --actor who is the Owner."""
from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from organizations.models import Organization, User
from organizations.services import find_account

from ...services import can_configure_sso


def add_org_and_actor(parser: CommandParser) -> None:
    parser.add_argument("org_uid", metavar="ORG_UID")
    parser.add_argument(
        "--actor", required=True, metavar="EMAIL",
        help="E-mail of the organization's Owner (or a superuser); recorded in the audit log.",
    )


def resolve(org_uid: str, actor_email: str, *, does: str = "configures SSO") -> tuple[Organization, User]:
    """The org, and the --actor if they are its Owner (or a superuser); `does`
    names what only the Owner does, for the refusal."""
    org = Organization.objects.filter(uid=org_uid).first()
    if org is None:
        raise CommandError(f"No organization with uid {org_uid!r}.")
    user = find_account(actor_email)
    if user is None or not can_configure_sso(user, org):
        raise CommandError(
            f"--actor {actor_email} is not the Owner of {org.name} ({org.uid}); only the Owner {does}."
        )
    return org, user
