from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate

BUILTIN_STACK_ROLES = ["Admin", "Developer", "Content Manager"]


def ensure_builtin_stack_roles(sender=None, using="default", **kwargs) -> None:
    """Built-in stack roles are data. Seeded by migration 0002 and re-ensured after
    every migrate or flush (a flush between transactional tests empties tables)."""
    # Models cannot be imported while Django reads the app configs (this module).
    from .models import StackRole

    for name in BUILTIN_STACK_ROLES:
        if not StackRole.objects.using(using).filter(organization=None, name__iexact=name).exists():
            StackRole.objects.using(using).create(organization=None, name=name, builtin=True)


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations"

    def import_models(self) -> None:
        """Sign-in's models (Invitation) belong to this app but live in its
        sub-package: Django imports only organizations.models by itself."""
        super().import_models()
        # Imported at Django's model-loading step, like organizations.models itself.
        from .signin import models  # noqa: F401

    def ready(self) -> None:
        # Modules that use models load once the registry is ready (after this module);
        # tasks, due_invitations and ways_in are imported so their Celery tasks are registered in the worker.
        from . import after_response, signals
        from .signin import due_invitations, invitations, session_lifetime, sessions, tasks, throttle, ways_in  # noqa: F401

        post_migrate.connect(ensure_builtin_stack_roles, sender=self, dispatch_uid="orgdesk-builtin-stack-roles")
        user_logged_in.connect(sessions.on_user_logged_in, dispatch_uid="signin-session-proofs")
        user_logged_in.connect(sessions.record_password_signin, dispatch_uid="signin-password-audit")

        signals.membership_created.connect(invitations.on_membership_created, dispatch_uid="signin-invite-created")
        signals.membership_active_changed.connect(
            invitations.on_membership_active_changed, dispatch_uid="signin-invite-active"
        )
        signals.ownership_transferred.connect(tasks.on_ownership_transferred, dispatch_uid="signin-ownership-mail")

        # The session lifetime counts from each sign-in (organizations/signin/session_lifetime.py).
        user_logged_in.connect(session_lifetime.stamp_sign_in, dispatch_uid="signin-session-started")

        # Work kept for after the response (organizations/after_response.py); a
        # sign-in makes the browser known to the account (organizations/signin/throttle.py).
        request_started.connect(after_response.on_request_started, dispatch_uid="orgdesk-after-response-start")
        request_finished.connect(after_response.on_request_finished, dispatch_uid="orgdesk-after-response-run")
        user_logged_in.connect(throttle.on_user_logged_in, dispatch_uid="orgdesk-trusted-browser")
