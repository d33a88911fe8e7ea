"""`create_org NAME --owner EMAIL [--password PW]`: an org with its Owner.

The uid is the last line of output so scripts can capture it with `tail -n1`."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from organizations import services
from organizations.models import Plan


class Command(BaseCommand):
    help = "Create an organization with its Owner; prints the new org's uid as the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="The Owner's e-mail (an existing account is reused).")
        parser.add_argument("--password", help="Set the Owner's password (otherwise a new account has none).")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.ENTERPRISE)

    def handle(self, *args, name: str, owner: str, password: str | None, plan: str, **options):
        try:
            org = services.create_organization(
                name, owner_email=owner, owner_password=password, plan=plan, actor=None
            )
        except services.ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created organization {org.name!r} owned by {owner}.")
        self.stdout.write(org.uid)
