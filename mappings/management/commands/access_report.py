"""`manage.py access_report ORG_UID [--json]`: every member's access and why."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mappings.report import access_report
from organizations.models import Organization


class Command(BaseCommand):
    help = "Print every member of an org with e-mail, userName, active, org role, stack roles per stack and groups."

    def add_arguments(self, parser) -> None:
        parser.add_argument("org_uid")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON (a list of members).")

    def handle(self, *args, org_uid: str, json: bool = False, **options) -> None:
        org = Organization.objects.filter(uid=org_uid).first()
        if org is None:
            raise CommandError(f"No organization with uid {org_uid!r}.")
        rows = access_report(org)
        if json:
            self.stdout.write(_dumps(rows))
            return
        for row in rows:
            state = "active" if row["active"] else "deactivated"
            self.stdout.write(f"{row['email']} (userName {row['userName']}, {state}): {row['org_role']}")
            for stack, roles in row["stack_roles"].items():
                self.stdout.write(f"  {stack}: {', '.join(roles)}")
            if row["groups"]:
                self.stdout.write(f"  groups: {', '.join(row['groups'])}")


def _dumps(rows) -> str:
    return json.dumps(rows, indent=2, sort_keys=True)
