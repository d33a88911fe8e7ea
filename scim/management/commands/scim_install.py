from django.core.management.base import BaseCommand, CommandError

from scim import installations
from scim.models import MarketplaceApp

from ._common import add_actor_argument, get_actor, get_org, service_errors, write_issued_token


class Command(BaseCommand):
    help = (
        "Install a marketplace app (e.g. okta-generic-scim) in an organization and print its SCIM URL and "
        "Secret Token. The token is shown only now."
    )

    def add_arguments(self, parser):
        parser.add_argument("org_uid", metavar="ORG_UID")
        parser.add_argument("--app", required=True, metavar="SLUG", help="Marketplace app slug, e.g. okta-generic-scim.")
        add_actor_argument(parser)
        parser.add_argument(
            "--json", action="store_true", help='Print one JSON object {"scim_url", "secret_token", "installation_id"}.'
        )

    def handle(self, *args, org_uid: str, app: str, actor: str, json: bool, **options) -> None:
        org = get_org(org_uid)
        user = get_actor(org, actor)
        marketplace_app = MarketplaceApp.objects.filter(slug=app).first()
        if marketplace_app is None:
            slugs = ", ".join(MarketplaceApp.objects.values_list("slug", flat=True))
            raise CommandError(f"No marketplace app {app!r}. Known apps: {slugs}.")
        with service_errors():
            installation, issued = installations.install_app(org, marketplace_app, actor=user)
        write_issued_token(
            self,
            installation,
            issued,
            headline=f"Installed {marketplace_app.name} in {org.name} (installation {installation.pk}).",
            as_json=json,
        )
