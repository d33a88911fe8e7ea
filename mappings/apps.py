from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Group mappings"

    def ready(self) -> None:
        # mappings sits above organizations and scim: it subscribes to what they
        # announce and fills their hooks, they never call it (docs/ARCHITECTURE.md,
        # "Apps" and "Composition hooks"). These modules use models, so they load
        # once the app registry is ready, not with this module.
        from organizations.audit_log import register_sentences
        from organizations.role_sources import register_explainer

        from . import receivers
        from .audit_sentences import SENTENCES
        from .role_source_explainer import explain_mapped_roles

        receivers.connect()
        register_explainer(explain_mapped_roles)
        register_sentences(SENTENCES)
