from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Group mappings"

    def ready(self) -> None:
        # mappings sits above organizations and scim: it subscribes to what they
        # announce, they never call it (docs/ARCHITECTURE.md, "Apps").
        from . import receivers

        receivers.connect()

        from organizations.role_sources import register_explainer

        from .home import explain_for_home

        register_explainer(explain_for_home)

        from organizations.audit_log import register_sentences

        from .audit_sentences import SENTENCES

        register_sentences(SENTENCES)
