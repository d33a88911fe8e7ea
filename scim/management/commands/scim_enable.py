from scim import installations

from ._common import OrgActorCommand


class Command(OrgActorCommand):
    help = "Enable SCIM for an organization (as the Enable SCIM button does)."

    def act(self, org, user) -> None:
        installations.enable_scim(org, actor=user)
        self.stdout.write(f"SCIM is enabled for {org.name}. SCIM URL: {installations.scim_url(org)}")
