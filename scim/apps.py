from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        from .catalog import ensure_catalog

        post_migrate.connect(ensure_catalog, sender=self, dispatch_uid="orgdesk-marketplace-catalog")
        from django.db.models.signals import post_delete, post_save

        from organizations.models import Organization

        from . import tokens
        from .api import totals
        from .models import AppInstallation, SecretToken

        totals.connect()
        from django.db.models.signals import pre_delete

        from organizations.models import Membership

        from .provisioning import touch_groups_of_deleted_member

        pre_delete.connect(touch_groups_of_deleted_member, sender=Membership, dispatch_uid="scim-group-version-member-delete")
        from organizations.audit_log import register_sentences

        from .audit_sentences import SENTENCES

        register_sentences(SENTENCES)
        for model in (SecretToken, AppInstallation, Organization):  # what a token's validity depends on
            for signal in (post_save, post_delete):
                signal.connect(tokens.auth_changed, sender=model, dispatch_uid=f"orgdesk-auth-{model.__name__}-{id(signal)}")
