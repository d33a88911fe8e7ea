from scim import installations

from ._common import OrgActorCommand


class Command(OrgActorCommand):
    help = "Disable SCIM for an organization: every SCIM request gets 401; nothing is deleted."

    def act(self, org, user) -> None:
        installations.disable_scim(org, actor=user)
        self.stdout.write(f"SCIM is disabled for {org.name}; nothing was deleted.")
