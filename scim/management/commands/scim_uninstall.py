from django.core.management.base import BaseCommand

from scim import installations

from ._common import add_actor_argument, get_actor, get_installation, service_errors


class Command(BaseCommand):
    help = "Uninstall a marketplace app: all its tokens stop working at once; members and groups stay."

    def add_arguments(self, parser):
        parser.add_argument("installation_id", metavar="INSTALLATION_ID", type=int)
        add_actor_argument(parser)

    def handle(self, *args, installation_id: int, actor: str, **options) -> None:
        installation = get_installation(installation_id)
        user = get_actor(installation.organization, actor)
        with service_errors():
            installations.uninstall_app(installation, actor=user)
        self.stdout.write(
            f"Uninstalled {installation.app.name} from {installation.organization.name}; its tokens no longer work."
        )
