from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save, pre_delete


def ensure_catalog(sender=None, using="default", **kwargs) -> None:
    """The marketplace catalog is data. Seeded by migration 0002 and re-ensured
    after every migrate or flush (a flush between transactional tests empties it)."""
    # Models (and the migration that holds the catalog) load after this module.
    from importlib import import_module

    from .models import MarketplaceApp

    seed = import_module("scim.migrations.0002_marketplace_catalog")
    apps = MarketplaceApp.objects.using(using)
    present = set(apps.filter(slug__in=[data["slug"] for data in seed.APPS]).values_list("slug", flat=True))
    missing = [
        MarketplaceApp(**data, permissions=seed.PERMISSIONS, requires_feature="scim")
        for data in seed.APPS
        if data["slug"] not in present
    ]
    if missing:
        apps.bulk_create(missing)


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
        from .models import AppInstallation, SecretToken
        from .provisioning import touch_groups_of_deleted_member

        post_migrate.connect(ensure_catalog, sender=self, dispatch_uid="orgdesk-marketplace-catalog")
        totals.connect()
        pre_delete.connect(touch_groups_of_deleted_member, sender=Membership, dispatch_uid="scim-group-version-member-delete")
        register_sentences(SENTENCES)
        for model in (SecretToken, AppInstallation, Organization):  # what a token's validity depends on
            for signal in (post_save, post_delete):
                signal.connect(tokens.auth_changed, sender=model, dispatch_uid=f"orgdesk-auth-{model.__name__}-{id(signal)}")
