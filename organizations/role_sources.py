"""Where a member's roles come from: the default role, granted by hand, or by a
mapped SCIM group.

Which group granted a role is known to the mappings app, which the tenant core
must not import (docs/ARCHITECTURE.md, "Apps"): it registers an explainer here
(register_explainer, in its AppConfig.ready). Without one, SCIM-derived roles
say "SCIM group mapping". Read by the member's home page, the Members tab, a
member's page and the messages after a role change, so all of them tell the
same story."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .models import Membership, OrgRole, StackAccess

# The org role every member has unless a person or a mapped group gives more.
DEFAULT_ROLE = OrgRole.MEMBER

# Group names shown for one role; more are summed up ("and 3 more").
SHOWN_GROUPS = 3


@dataclass
class Explanation:
    """Group names behind SCIM-derived access of some memberships."""

    org_role_groups: dict[int, list[str]] = field(default_factory=dict)  # membership id -> groups
    stack_role_groups: dict[tuple[int, int, int], list[str]] = field(default_factory=dict)  # (membership, stack, role)


# (memberships, grants) -> Explanation; memberships may span several orgs.
Explainer = Callable[[list[Membership], list[StackAccess]], Explanation]
_explainers: list[Explainer] = []


def register_explainer(explainer: Explainer) -> None:
    if explainer not in _explainers:
        _explainers.append(explainer)


def explain(memberships: list[Membership], grants: list[StackAccess] | None = None) -> Explanation:
    """A constant number of queries for a page of memberships (each explainer's own)."""
    result = Explanation()
    for explainer in _explainers:
        part = explainer(memberships, grants or [])
        result.org_role_groups.update(part.org_role_groups)
        result.stack_role_groups.update(part.stack_role_groups)
    return result


def _groups_text(groups: list[str]) -> str:
    shown = ", ".join(groups[:SHOWN_GROUPS])
    more = len(groups) - SHOWN_GROUPS
    return f"SCIM group{'s' if len(groups) > 1 else ''} {shown}" + (f" and {more} more" if more > 0 else "")


def source_text(manual: bool, groups: list[str], scim: bool) -> str:
    """"granted by hand", "SCIM group Engineering", or both."""
    parts = []
    if manual:
        parts.append("granted by hand")
    if groups:
        parts.append(_groups_text(groups))
    elif scim:
        parts.append("SCIM group mapping")
    return "; ".join(parts) or "—"


def org_role_source(m: Membership, groups: list[str]) -> str:
    """Where the member's effective org role comes from."""
    if m.role == OrgRole.OWNER:
        return "Owner of the organization"
    if not m.active:
        return "deactivated: no access until reactivated"
    if m.manual_role == m.role == DEFAULT_ROLE:
        # Every member starts as Member: nobody needs to have granted it. The cheap,
        # honest rule: the default reads "default role"; only a role above it
        # (Admin), which a person must have chosen, reads "granted by hand".
        return "; ".join(["default role", *([_groups_text(groups)] if groups else [])])
    return source_text(m.manual_role == m.role, groups, scim=m.manual_role != m.role)


def annotate_org_role_sources(memberships: list[Membership]) -> None:
    """Set `role_source` (and `role_groups`) on each membership of a page."""
    why = explain(memberships)
    for m in memberships:
        m.role_groups = why.org_role_groups.get(m.pk, [])
        m.role_source = org_role_source(m, m.role_groups)


def role_change_outcome(m: Membership, requested: str) -> tuple[bool, str]:
    """After the role granted by hand was set to `requested`: (whether the member
    now has that role, a sentence saying the role they really have and why)."""
    annotate_org_role_sources([m])
    role = m.get_role_display()
    requested_label = OrgRole(requested).label
    email = m.user.email
    if not m.active:
        return False, f"{email} is deactivated and has no access; once reactivated they have the role {requested_label} or what their groups grant."
    if m.role == requested:
        return True, f"{email} now has the role {role} ({m.role_source})."
    if m.role_groups:
        return False, (
            f"{email} still has the role {role}: it comes from {_groups_text(m.role_groups)}. "
            f"The role granted by hand is now {requested_label} and applies once no mapped group grants more; "
            "to change the role they have, change the group mapping or the group."
        )
    return False, f"{email} has the role {role} ({m.role_source}); the role granted by hand is now {requested_label}."
