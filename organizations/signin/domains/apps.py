from django.apps import AppConfig


class VerifiedDomainsConfig(AppConfig):
    name = "organizations.signin.domains"
    label = "signin_domains"
    verbose_name = "Verified domains"

    def ready(self) -> None:
        # Model-using modules load once the app registry is ready, not with this module.
        from organizations.audit_log import register_sentences

        from . import tasks  # noqa: F401  (registers the Celery tasks)
        from .audit_sentences import SENTENCES

        register_sentences(SENTENCES)
