"""`create_org NAME --owner EMAIL [--password PW] [--owner-first-name F --owner-last-name L]`:
an org with its Owner.

The Owner is a SCIM user of the org like any member (Okta's connector test reads
the first user's name and e-mail), so a new account's name is asked for: from the
flags, else at the prompt when run interactively. The uid is the last line of
output so scripts can capture it with `tail -n1`."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from organizations import services
from organizations.models import Plan


class Command(BaseCommand):
    help = "Create an organization with its Owner; prints the new org's uid as the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="The Owner's e-mail (an existing account is reused).")
        parser.add_argument("--password", help="Set the Owner's password (otherwise a new account has none).")
        parser.add_argument("--owner-first-name", default="", help="The Owner's first (given) name.")
        parser.add_argument("--owner-last-name", default="", help="The Owner's last (family) name.")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.ENTERPRISE)

    def handle(self, *args, name: str, owner: str, password: str | None, plan: str, **options):
        first, last = options["owner_first_name"].strip(), options["owner_last_name"].strip()
        if not (first and last) and sys.stdin.isatty() and services.find_account(owner) is None:
            first = first or input("Owner's first name: ").strip()
            last = last or input("Owner's last name: ").strip()
        try:
            org = services.create_organization(
                name,
                owner_email=owner,
                owner_password=password,
                owner_first_name=first,
                owner_last_name=last,
                plan=plan,
                actor=None,
            )
        except services.ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created organization {org.name!r} owned by {owner}.")
        self.stdout.write(org.uid)
