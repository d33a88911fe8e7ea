"""`seed_demo [--if-empty]`: a demo org to click through after `make run`.

With --if-empty on a database that already has organizations it creates nothing
but still prints the logins, so `make run` can call it every time."""
from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from organizations import services
from organizations.models import Organization, OrgRole, StackRole

DEMO_ORG = "Demo Co"
# Development logins only: printed on purpose so the demo can be tried at once.
DEMO_PASSWORD = "orgdesk-demo-password"
DEMO_ACCOUNTS = [
    ("owner@demo.example", OrgRole.OWNER),
    ("admin@demo.example", OrgRole.ADMIN),
    ("member@demo.example", OrgRole.MEMBER),
]
DEMO_STACKS = ["Marketing Site", "Mobile App"]
DEMO_STACK_ROLES = ["Admin", "Developer"]
ADMIN_URL = "http://127.0.0.1:8000/admin/"


class Command(BaseCommand):
    help = "Create the Demo Co organization with an owner, an admin, a member and two stacks."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing (but print the logins) if any organization exists."
        )

    def handle(self, *args, if_empty: bool, **options):
        if if_empty and Organization.objects.exists():
            self.stdout.write("Organizations exist already; no demo data created.")
        else:
            self.seed()
        self.stdout.write(f"Orgdesk admin: {ADMIN_URL}")
        self.stdout.write("Demo logins (e-mail / password):")
        for email, role in DEMO_ACCOUNTS:
            note = "" if role != OrgRole.MEMBER else "  (a Member: signs in to their home page, not the admin)"
            self.stdout.write(f"  {role.label:<7} {email} / {DEMO_PASSWORD}{note}")

    @transaction.atomic
    def seed(self) -> None:
        (owner_email, _), *others = DEMO_ACCOUNTS
        org = services.create_organization(
            DEMO_ORG, owner_email=owner_email, owner_password=DEMO_PASSWORD, actor=None
        )
        members = [
            services.add_member(org, email, role=role, password=DEMO_PASSWORD, actor=None) for email, role in others
        ]
        stacks = [services.create_stack(org, name, actor=None) for name in DEMO_STACKS]
        # One hand-granted stack role each, so the Members tab has something to show.
        for membership, stack, role_name in zip(members, stacks, DEMO_STACK_ROLES):
            services.grant_stack_role(membership, stack, StackRole.objects.get(builtin=True, name=role_name), actor=None)
        self.stdout.write(self.style.SUCCESS(f"Created {DEMO_ORG} ({org.uid}) with 3 people and 2 stacks."))
