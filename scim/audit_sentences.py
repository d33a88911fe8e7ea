"""How the audit log tab (organizations.audit_log) words scim's actions;
registered from ScimConfig.ready."""
from __future__ import annotations

from organizations.audit_actions import (
    MARKETPLACE_INSTALL, MARKETPLACE_REINSTALL, MARKETPLACE_TOKEN_REGENERATE, MARKETPLACE_UNINSTALL,
    SCIM_DISABLE, SCIM_ENABLE, SCIM_GROUP_CREATE, SCIM_GROUP_DELETE, SCIM_GROUP_MEMBERS, SCIM_GROUP_UPDATE,
    SCIM_USER_DEACTIVATE, SCIM_USER_PROVISION, SCIM_USER_REACTIVATE, SCIM_USER_UPDATE,
)
from organizations.audit_log import Words
from organizations.models import AuditEvent



def _installation(event: AuditEvent, w: Words) -> str:
    """The installation by its app's name and number: "Okta Generic SCIM (installation #3)"
    (its target label is "<app> in <org>")."""
    app = w["target"].rsplit(" in ", 1)[0] if " in " in w["target"] else w["target"]
    return f"{app} (installation #{event.target_id})" if event.target_id else app


def _count(values, key: str, noun: str) -> str:
    n = values.get(key) if isinstance(values, dict) else None
    return f"{n} {noun}{'' if n == 1 else 's'}" if isinstance(n, int) else f"? {noun}s"


def _members(event: AuditEvent, w: Words) -> str:
    after = event.after if isinstance(event.after, dict) else {}
    added, removed = len(after.get("added") or []), len(after.get("removed") or [])
    parts = []
    if added:
        parts.append(f"added {added} member{'s' if added != 1 else ''} to")
    if removed:
        parts.append(f"removed {removed} member{'s' if removed != 1 else ''} from")
    change = " and ".join(parts) or "changed the members of"
    return f"{w['actor']} {change} the SCIM group {w['target']} (now {_count(event.after, 'members', 'member')})"


def _group_update(event: AuditEvent, w: Words) -> str:
    old = w.get("before_displayName")
    if old and old != w.get("after_displayName"):
        return f"{w['actor']} renamed the SCIM group {old} to {w['after_displayName']}"
    return f"{w['actor']} updated the SCIM group {w['target']}"


SENTENCES = {
    SCIM_ENABLE: "{actor} enabled SCIM provisioning",
    SCIM_DISABLE: "{actor} disabled SCIM provisioning: every token of the organization stopped working",
    MARKETPLACE_INSTALL: lambda e, w: f"{w['actor']} installed {_installation(e, w)}",
    MARKETPLACE_TOKEN_REGENERATE: lambda e, w: f"{w['actor']} regenerated the secret token of {_installation(e, w)}; the old token stopped working",
    MARKETPLACE_UNINSTALL: lambda e, w: f"{w['actor']} uninstalled {_installation(e, w)}; its tokens stopped working",
    MARKETPLACE_REINSTALL: lambda e, w: f"{w['actor']} reinstalled {_installation(e, w)} with a new secret token",
    SCIM_USER_PROVISION: "{actor} provisioned {target}",
    SCIM_USER_UPDATE: "{actor} updated the profile of {target}",
    SCIM_USER_DEACTIVATE: "{actor} deactivated {target}",
    SCIM_USER_REACTIVATE: "{actor} reactivated {target}",
    SCIM_GROUP_CREATE: lambda e, w: f"{w['actor']} created the SCIM group {w['target']} with {_count(e.after, 'members', 'member')}",
    SCIM_GROUP_UPDATE: _group_update,
    SCIM_GROUP_MEMBERS: _members,
    SCIM_GROUP_DELETE: lambda e, w: f"{w['actor']} deleted the SCIM group {w['before_displayName']} ({_count(e.before, 'members', 'member')})",
}
