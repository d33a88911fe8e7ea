from django.core.management.base import BaseCommand, CommandError

from organizations.services import ServiceError

from ... import services
from ._common import add_arguments, as_dict, dumps, resolve


class Command(BaseCommand):
    help = "Verify an organization's domain now by looking up its TXT record; exits non-zero when it is not verified."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, org_uid, domain, actor, json: bool, **options) -> None:
        org, user = resolve(org_uid, actor)
        try:
            row = services.verify_domain(org, domain, actor=user)
        except services.VerificationFailed as exc:
            if json:
                row = services.VerifiedDomain.objects.get(organization=org, domain=services.normalize_domain(domain))
                self.stdout.write(dumps({**as_dict(row), "error": str(exc)}), ending="\n")
            raise CommandError(f"{domain.strip()} is not verified. {exc}") from exc
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(dumps(as_dict(row)), ending="\n")
            return
        self.stdout.write(f"{row.domain} is verified for {org.name}.")
