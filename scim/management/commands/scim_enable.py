from django.core.management.base import BaseCommand

from scim import services

from ._common import add_actor_argument, get_actor, get_org, service_errors


class Command(BaseCommand):
    help = "Enable SCIM for an organization (as the Enable SCIM button does)."

    def add_arguments(self, parser):
        parser.add_argument("org_uid", metavar="ORG_UID")
        add_actor_argument(parser)

    def handle(self, *args, org_uid: str, actor: str, **options) -> None:
        org = get_org(org_uid)
        user = get_actor(org, actor)
        with service_errors():
            services.enable_scim(org, actor=user)
        self.stdout.write(f"SCIM is enabled for {org.name}. SCIM URL: {services.scim_url(org)}")
