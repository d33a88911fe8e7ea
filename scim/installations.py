"""Enabling SCIM and the marketplace: install, regenerate the token, uninstall.

Every function runs in a transaction, checks that a user actor may manage the
org, and writes an audit entry that never contains a secret (only the token's
non-secret prefix). Secrets leave these functions exactly once, inside the
returned IssuedToken, for the caller to show and forget."""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import (
    MARKETPLACE_INSTALL, MARKETPLACE_REINSTALL, MARKETPLACE_TOKEN_REGENERATE, MARKETPLACE_UNINSTALL,
    SCIM_DISABLE, SCIM_ENABLE,
)
from organizations.models import Organization, User
from organizations.permissions import NotPermitted, ensure_can_manage
from organizations.services import ServiceError

from .models import AppInstallation, MarketplaceApp, SecretToken
from . import tokens
from .tokens import IssuedToken, issue_token

SCIM_FEATURE = "scim"
SCIM_PATH = "/scim/v2/organizations/"

# Audit actions (constants, not scattered strings).


ScimPermissionDenied = NotPermitted  # what ensure_can_manage raises


class ScimNotAvailable(ServiceError):
    """The org's plan lacks SCIM, or SCIM is switched off."""


class AlreadyInstalled(ServiceError):
    """The app already has a live installation in this org. We refuse rather than
    return the existing one: a second install would have to issue a new token, and
    doing that silently would break the IdP already using the old one. Regenerating
    the token is an explicit action on the installation page."""

    def __init__(self, installation: AppInstallation) -> None:
        self.installation = installation
        super().__init__(
            f"{installation.app.name} is already installed in {installation.organization.name}. "
            "Open the installation to regenerate its token, or uninstall it first."
        )


def scim_url(org: Organization) -> str:
    """The base URL an IdP is given: PUBLIC_BASE_URL + path, no trailing slash
    (Okta appends "/Users" itself and a double slash breaks it)."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{SCIM_PATH}{org.uid}"


def ensure_plan_has_scim(org: Organization) -> None:
    if not org.has_feature(SCIM_FEATURE):
        raise ScimNotAvailable(f"The {org.get_plan_display()} plan of {org.name} does not include SCIM.")


def _locked_org(org: Organization) -> Organization:
    """Re-read the org under a row lock so concurrent toggles/installs serialise."""
    return Organization.objects.select_for_update().get(pk=org.pk)


def _token_summary(token: SecretToken) -> dict:
    return {"token_id": token.pk, "token_prefix": token.prefix}


@transaction.atomic
def enable_scim(org: Organization, *, actor: Actor) -> Organization:
    ensure_can_manage(org, actor)
    ensure_plan_has_scim(org)
    locked = _locked_org(org)
    if not locked.scim_enabled:
        locked.scim_enabled = True
        locked.scim_enabled_at = timezone.now()
        locked.save(update_fields=["scim_enabled", "scim_enabled_at"])
        audit.record(locked, actor, SCIM_ENABLE, locked, before={"scim_enabled": False}, after={"scim_enabled": True})
    org.scim_enabled, org.scim_enabled_at = locked.scim_enabled, locked.scim_enabled_at
    return org


@transaction.atomic
def disable_scim(org: Organization, *, actor: Actor) -> Organization:
    """Deletes nothing: tokens stop working because scim.tokens.check
    checks org.scim_enabled, and enabling again resumes them."""
    ensure_can_manage(org, actor)
    locked = _locked_org(org)
    if locked.scim_enabled:
        locked.scim_enabled = False
        locked.save(update_fields=["scim_enabled"])
        audit.record(locked, actor, SCIM_DISABLE, locked, before={"scim_enabled": True}, after={"scim_enabled": False})
    org.scim_enabled = False
    return org


def live_installation(org: Organization, app: MarketplaceApp) -> AppInstallation | None:
    return (
        AppInstallation.objects.select_related("app", "organization")
        .filter(organization=org, app=app, uninstalled_at__isnull=True)
        .first()
    )


def _ensure_installable(org: Organization, app: MarketplaceApp) -> Organization:
    """The org, locked, once its plan and SCIM switch allow the app and no other
    live installation of it exists (AlreadyInstalled)."""
    if app.requires_feature and not org.has_feature(app.requires_feature):
        raise ScimNotAvailable(f"The {org.get_plan_display()} plan of {org.name} does not include {app.name}.")
    locked = _locked_org(org)
    if not locked.scim_enabled:
        raise ScimNotAvailable(f"Enable SCIM for {org.name} before installing {app.name}.")
    existing = live_installation(locked, app)
    if existing is not None:
        raise AlreadyInstalled(existing)
    return locked


@transaction.atomic
def install_app(org: Organization, app: MarketplaceApp, *, actor: Actor) -> tuple[AppInstallation, IssuedToken]:
    """Install the app and issue its first token. Refuses a second live install
    of the same app (AlreadyInstalled)."""
    ensure_can_manage(org, actor)
    locked = _ensure_installable(org, app)
    try:
        with transaction.atomic():
            installation = AppInstallation.objects.create(
                organization=locked, app=app, installed_by=actor if isinstance(actor, User) else None
            )
    except IntegrityError:  # lost a race with a concurrent install
        raise AlreadyInstalled(live_installation(locked, app)) from None
    issued = issue_token(installation)
    audit.record(
        locked, actor, MARKETPLACE_INSTALL, installation, after={"app": app.slug, **_token_summary(issued.token)}
    )
    return installation, issued


def _revoke_live_tokens(installation: AppInstallation, now) -> list[str]:
    live = SecretToken.objects.filter(installation=installation, revoked_at__isnull=True)
    prefixes = list(live.values_list("prefix", flat=True))
    live.update(revoked_at=now)  # one statement: every old token dies at once
    tokens.auth_changed()  # an update() sends no post_save: forget remembered tokens
    return prefixes


def _locked_live_installation(installation: AppInstallation) -> AppInstallation:
    locked = (
        AppInstallation.objects.select_for_update(of=("self",))
        .select_related("app", "organization")
        .get(pk=installation.pk)
    )
    if locked.uninstalled_at is not None:
        raise ServiceError(f"{locked.app.name} has been uninstalled; install it again for a new token.")
    return locked


@transaction.atomic
def regenerate_token(installation: AppInstallation, *, actor: Actor) -> IssuedToken:
    """Revoke every live token of the installation and issue a new one."""
    ensure_can_manage(installation.organization, actor)
    locked = _locked_live_installation(installation)
    revoked = _revoke_live_tokens(locked, timezone.now())
    issued = issue_token(locked)
    audit.record(
        locked.organization,
        actor,
        MARKETPLACE_TOKEN_REGENERATE,
        locked,
        before={"token_prefixes": revoked},
        after=_token_summary(issued.token),
    )
    return issued


@transaction.atomic
def uninstall_app(installation: AppInstallation, *, actor: Actor) -> AppInstallation:
    """Revoke all tokens and mark the installation uninstalled; users, groups and
    mappings provisioned through it stay."""
    ensure_can_manage(installation.organization, actor)
    locked = _locked_live_installation(installation)
    now = timezone.now()
    revoked = _revoke_live_tokens(locked, now)
    locked.uninstalled_at = now
    locked.save(update_fields=["uninstalled_at"])
    audit.record(
        locked.organization,
        actor,
        MARKETPLACE_UNINSTALL,
        locked,
        before={"live": True, "token_prefixes": revoked},
        after={"live": False},
    )
    installation.uninstalled_at = now
    return locked


@transaction.atomic
def reinstall_app(installation: AppInstallation, *, actor: Actor) -> IssuedToken:
    """Bring an uninstalled installation back with a new token. It keeps its id,
    so its Provisioning activity and audit history stay its own; its old tokens
    stay revoked. Refused while another installation of the app is live."""
    ensure_can_manage(installation.organization, actor)
    locked_org = _ensure_installable(installation.organization, installation.app)
    locked = AppInstallation.objects.select_for_update(of=("self",)).select_related("app").get(pk=installation.pk)
    if locked.uninstalled_at is None:
        raise AlreadyInstalled(locked)
    uninstalled_at = locked.uninstalled_at
    locked.uninstalled_at = None
    try:
        with transaction.atomic():
            locked.save(update_fields=["uninstalled_at"])
    except IntegrityError:  # lost a race with a concurrent install of the same app
        raise AlreadyInstalled(live_installation(locked_org, locked.app)) from None
    issued = issue_token(locked)
    audit.record(
        locked_org,
        actor,
        MARKETPLACE_REINSTALL,
        locked,
        before={"live": False, "uninstalled_at": uninstalled_at.isoformat()},
        after={"live": True, **_token_summary(issued.token)},
    )
    installation.uninstalled_at = None
    return issued
