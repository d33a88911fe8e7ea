from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save, pre_delete


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        # Model-using modules load once the app registry is ready, not with this module.
        from organizations.audit_log import register_sentences
        from organizations.models import Membership, Organization

        from . import tokens
        from .api import totals
        from .audit_sentences import SENTENCES
        from .catalog import ensure_catalog
        from .models import AppInstallation, SecretToken
        from .provisioning import touch_groups_of_deleted_member

        post_migrate.connect(ensure_catalog, sender=self, dispatch_uid="orgdesk-marketplace-catalog")
        totals.connect()
        pre_delete.connect(touch_groups_of_deleted_member, sender=Membership, dispatch_uid="scim-group-version-member-delete")
        register_sentences(SENTENCES)
        for model in (SecretToken, AppInstallation, Organization):  # what a token's validity depends on
            for signal in (post_save, post_delete):
                signal.connect(tokens.auth_changed, sender=model, dispatch_uid=f"orgdesk-auth-{model.__name__}-{id(signal)}")
