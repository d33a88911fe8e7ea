from django.core.management.base import BaseCommand

from scim import installations

from ._common import add_actor_argument, get_actor, get_installation, service_errors, write_issued_token


class Command(BaseCommand):
    help = "Regenerate an installation's Secret Token: the old one stops working at once; the new one is shown once."

    def add_arguments(self, parser):
        parser.add_argument("installation_id", metavar="INSTALLATION_ID", type=int)
        add_actor_argument(parser)
        parser.add_argument(
            "--json", action="store_true", help='Print one JSON object {"scim_url", "secret_token", "installation_id"}.'
        )

    def handle(self, *args, installation_id: int, actor: str, json: bool, **options) -> None:
        installation = get_installation(installation_id)
        org = installation.organization
        user = get_actor(org, actor)
        with service_errors():
            issued = installations.regenerate_token(installation, actor=user)
        write_issued_token(
            self,
            installation,
            issued,
            headline=f"New Secret Token for {installation.app.name} in {org.name}; the old one no longer works.",
            as_json=json,
        )
