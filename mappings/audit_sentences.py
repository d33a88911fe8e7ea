"""How the audit log tab (organizations.audit_log) words mappings' actions;
registered from MappingsConfig.ready."""
from __future__ import annotations

from organizations.audit_actions import (
    ACCESS_RECOMPUTE, GROUP_MAPPING_CREATE, GROUP_MAPPING_DELETE, GROUP_MAPPING_UPDATE,
)
from organizations.audit_log import Words
from organizations.models import AuditEvent, OrgRole


_ROLES = dict(OrgRole.choices)


def _grants(described) -> str:
    """A mapping's audit shape (mappings.services._describe) as words."""
    if not isinstance(described, dict):
        return "nothing"
    parts = [f"{_ROLES.get(described.get('org_role'), described.get('org_role'))} of the organization"]
    if described.get("all_stacks_role"):
        parts.append(f"{described['all_stacks_role']} on all stacks")
    parts += [f"{role} on {stack}" for stack, role in (described.get("stack_roles") or {}).items()]
    return ", ".join(parts)


def _mapping_saved(event: AuditEvent, w: Words) -> str:
    if event.action == GROUP_MAPPING_CREATE:
        return f"{w['actor']} mapped the SCIM group {w['target']} to {_grants(event.after)}"
    return f"{w['actor']} changed the mapping of the SCIM group {w['target']} from {_grants(event.before)} to {_grants(event.after)}"


def _stack_roles(value) -> set[tuple]:
    """(stack id, stack role id) pairs, as the engine records them."""
    return {tuple(pair) for pair in (value or [])}


def _recompute(event: AuditEvent, w: Words) -> str:
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    changes = []
    if before.get("role") != after.get("role"):
        changes.append(f"role {w['before_role']} → {w['after_role']}")
    gained = len(_stack_roles(after.get("stack_roles")) - _stack_roles(before.get("stack_roles")))
    lost = len(_stack_roles(before.get("stack_roles")) - _stack_roles(after.get("stack_roles")))
    if gained:
        changes.append(f"{gained} stack role{'s' if gained != 1 else ''} gained")
    if lost:
        changes.append(f"{lost} stack role{'s' if lost != 1 else ''} lost")
    return f"The access of {w['target']} was re-derived from their SCIM groups after a change by {w['actor']}: {', '.join(changes) or 'no change'}"


SENTENCES = {
    GROUP_MAPPING_CREATE: _mapping_saved,
    GROUP_MAPPING_UPDATE: _mapping_saved,
    GROUP_MAPPING_DELETE: lambda e, w: f"{w['actor']} removed the mapping of the SCIM group {w['target']} ({_grants(e.before)})",
    ACCESS_RECOMPUTE: _recompute,
}
