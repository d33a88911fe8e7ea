"""`invite_member ORG_UID EMAIL --role Admin|Member --actor EMAIL`: add a person
by hand and send them an invitation, as the Members tab does."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from organizations.formats import format_datetime
from organizations.models import Organization, OrgRole
from organizations.permissions import manager_account
from organizations.services import ServiceError
from organizations.signin.invitations import invite_member

ROLES = {"admin": OrgRole.ADMIN, "member": OrgRole.MEMBER}


class Command(BaseCommand):
    help = "Add a member to an organization and e-mail them a one-time invitation link."

    def add_arguments(self, parser):
        parser.add_argument("org_uid", metavar="ORG_UID")
        parser.add_argument("email", metavar="EMAIL")
        parser.add_argument("--role", default="Member", type=str.lower, choices=sorted(ROLES),
                            help="Admin or Member (default Member); the Owner changes only by a transfer.")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--actor", required=True, metavar="EMAIL",
            help="E-mail of an active Owner or Admin of the organization (or a superuser); recorded in the audit log.",
        )

    def handle(self, *args, org_uid: str, email: str, role: str, actor: str, **options):
        org = Organization.objects.filter(uid=org_uid).first()
        if org is None:
            raise CommandError(f"No organization with uid {org_uid!r}.")
        user = manager_account(org, actor)
        if user is None:
            raise CommandError(f"--actor {actor} is not an active Owner or Admin of {org.name} ({org.uid}).")
        try:
            membership, invitation = invite_member(
                org, email, role=ROLES[role], first_name=options["first_name"], last_name=options["last_name"],
                actor=user,
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{membership.user.email} was added to {org.name} as {membership.get_role_display()}; "
            f"invitation {invitation.pk} expires {format_datetime(invitation.expires_at)}."
        )
