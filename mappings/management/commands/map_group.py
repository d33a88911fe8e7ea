"""`manage.py map_group ORG_UID "GROUP" --org-role Admin|Member [--stack "STACK=ROLE" ...] [--all-stacks ROLE]`.

Replaces the group's whole mapping (stacks not named get no role from it),
through the same service as the SCIM tab, audited as --actor (or the system)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models.functions import Lower

from mappings.models import MAPPABLE_ORG_ROLES
from mappings.services import MappingError, save_mapping
from organizations.models import Organization, Stack, StackRole
from organizations.permissions import manager_account
from scim.models import ScimGroup

ROLE_BY_LABEL = {label.lower(): value for value, label in MAPPABLE_ORG_ROLES}


class Command(BaseCommand):
    help = "Map a SCIM group to an org role (Admin or Member) and stack roles."

    def add_arguments(self, parser) -> None:
        parser.add_argument("org_uid")
        parser.add_argument("group", help="The SCIM group's displayName (case-insensitive).")
        parser.add_argument("--org-role", required=True, help="Admin or Member.")
        parser.add_argument(
            "--stack", action="append", default=[], metavar="STACK=ROLE", help="A stack role; repeat for more."
        )
        parser.add_argument("--all-stacks", metavar="ROLE", help="A role on every stack, including later ones.")
        parser.add_argument(
            "--actor", metavar="EMAIL", help="Record the change as this Owner/Admin (default: the system)."
        )

    def handle(self, *args, org_uid: str, group: str, org_role: str, stack: list[str], all_stacks, **options):
        org = Organization.objects.filter(uid=org_uid).first()
        if org is None:
            raise CommandError(f"No organization with uid {org_uid!r}.")
        actor = None
        if options.get("actor"):
            actor = manager_account(org, options["actor"])
            if actor is None:
                raise CommandError(f"{options['actor']} is not an active Owner or Admin of {org.name}.")
        role_value = ROLE_BY_LABEL.get(org_role.strip().lower())
        if role_value is None:
            raise CommandError(f"--org-role must be Admin or Member, not {org_role!r}.")
        scim_group = (
            ScimGroup.objects.alias(n=Lower("display_name")).filter(organization=org, n=group.strip().lower()).first()
        )
        if scim_group is None:
            raise CommandError(f"No SCIM group named {group!r} in {org.name}.")
        stack_roles: dict[Stack, StackRole | None] = {}
        for item in stack:
            name, sep, role_name = item.partition("=")
            if not sep or not name.strip() or not role_name.strip():
                raise CommandError(f"--stack takes STACK=ROLE, not {item!r}.")
            found = Stack.objects.alias(n=Lower("name")).filter(organization=org, n=name.strip().lower()).first()
            if found is None:
                raise CommandError(f"No stack named {name.strip()!r} in {org.name}.")
            stack_roles[found] = self._role(org, role_name)
        all_role = self._role(org, all_stacks) if all_stacks else None
        try:
            mapping = save_mapping(
                org, scim_group, org_role=role_value, stack_roles=stack_roles, all_stacks_role=all_role, actor=actor
            )
        except MappingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Mapped {scim_group.display_name} -> {mapping.get_org_role_display()}"))

    def _role(self, org: Organization, name: str) -> StackRole:
        role = StackRole.available_to(org).alias(n=Lower("name")).filter(n=name.strip().lower()).first()
        if role is None:
            raise CommandError(f"No stack role named {name.strip()!r} in {org.name}.")
        return role
