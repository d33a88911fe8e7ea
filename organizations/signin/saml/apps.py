from django.apps import AppConfig


class SamlSsoConfig(AppConfig):
    name = "organizations.signin.saml"
    label = "saml_sso"
    verbose_name = "SAML single sign-on"

    def ready(self) -> None:
        from . import config, tasks  # noqa: F401  (tasks: registers the Celery task)

        config.apply_clock_skew()
