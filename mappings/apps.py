from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Group mappings"

    def ready(self) -> None:
        from organizations.signin.home import register_explainer

        from .home import explain_for_home

        register_explainer(explain_for_home)
