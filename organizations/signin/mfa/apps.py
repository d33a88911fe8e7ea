from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class MfaConfig(AppConfig):
    """Two-factor authentication for password sign-ins (docs/ARCHITECTURE.md,
    "Identity"): TOTP devices (django-otp), recovery codes, the org policy."""

    name = "organizations.signin.mfa"
    label = "signin_mfa"
    verbose_name = "Two-factor authentication"

    def ready(self) -> None:
        # Model-using modules load once the app registry is ready, not with this module.
        from organizations.audit_log import register_sentences

        from . import enforcement
        from .audit_sentences import SENTENCES

        register_sentences(SENTENCES)
        user_logged_in.connect(enforcement.on_user_logged_in, dispatch_uid="signin-mfa-enrolment")
