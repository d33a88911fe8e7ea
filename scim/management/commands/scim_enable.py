from scim import services

from ._common import OrgActorCommand


class Command(OrgActorCommand):
    help = "Enable SCIM for an organization (as the Enable SCIM button does)."

    def act(self, org, user) -> None:
        services.enable_scim(org, actor=user)
        self.stdout.write(f"SCIM is enabled for {org.name}. SCIM URL: {services.scim_url(org)}")
