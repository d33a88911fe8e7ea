"""`create_stack ORG_UID NAME`: a stack in an existing org."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from organizations import services
from organizations.models import Organization


class Command(BaseCommand):
    help = "Create a stack in the organization with this uid."

    def add_arguments(self, parser):
        parser.add_argument("org_uid")
        parser.add_argument("name")

    def handle(self, *args, org_uid: str, name: str, **options):
        org = Organization.objects.filter(uid=org_uid).first()
        if org is None:
            raise CommandError(f"No organization with uid {org_uid!r}.")
        try:
            stack = services.create_stack(org, name, actor=None)
        except services.ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created stack {stack.name!r} (id {stack.pk}) in {org.name}.")
