from django.core.management.base import BaseCommand, CommandError

from organizations.services import ServiceError

from ... import services
from ._common import add_arguments, as_dict, dumps, resolve


class Command(BaseCommand):
    help = "Add a domain to an organization (not verified yet) and print the TXT record to publish."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, org_uid, domain, actor, json: bool, **options) -> None:
        org, user = resolve(org_uid, actor)
        try:
            row = services.add_domain(org, domain, actor=user)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(dumps(as_dict(row)), ending="\n")
            return
        state = "verified" if row.verified else "not verified yet"
        self.stdout.write(f"{row.domain} for {org.name} ({state}). Publish this TXT record, then run domain_verify:")
        self.stdout.write(f"TXT name: {row.record_name}")
        self.stdout.write(f"TXT value: {row.record_value}")
