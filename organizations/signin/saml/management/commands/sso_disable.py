from django.core.management.base import BaseCommand, CommandError

from organizations.services import ServiceError

from ... import services
from ._common import add_org_and_actor, resolve


class Command(BaseCommand):
    help = "Disable SAML single sign-on for an organization (members then sign in with a password)."

    def add_arguments(self, parser) -> None:
        add_org_and_actor(parser)

    def handle(self, *args, org_uid, actor, **options) -> None:
        org, user = resolve(org_uid, actor)
        try:
            services.disable_sso(org, actor=user)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"SSO is disabled for {org.name}; members sign in with a password.")
