"""The access engine's pure core: from a membership's facts, derive its access.

No database here, so the rules are table-testable (tests/test_access_engine.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

from organizations.models import ORG_ROLE_RANK, OrgRole


@dataclass(frozen=True)
class MappingRule:
    """What one mapped group grants."""

    group_id: int
    org_role: str
    stack_roles: frozenset[tuple[int, int]] = frozenset()  # (stack_id, role_id)
    all_stacks_role_id: int | None = None


@dataclass(frozen=True)
class DerivedAccess:
    org_role: str
    stack_roles: frozenset[tuple[int, int]] = field(default_factory=frozenset)


def derive_access(
    *,
    active: bool,
    current_role: str,
    manual_role: str,
    group_ids: frozenset[int] | set[int],
    rules: dict[int, MappingRule],
    stack_ids: frozenset[int] | set[int],
) -> DerivedAccess:
    """Org role: the highest of the role granted by hand and the mapped roles of the
    member's groups (the Owner is never changed). Stack roles: the union over the
    member's mapped groups. A deactivated membership derives no SCIM access and
    the lowest org role; manual stack grants live in their own rows and are not
    part of this result."""
    if current_role == OrgRole.OWNER:
        if not active:
            return DerivedAccess(OrgRole.OWNER, frozenset())
        role = OrgRole.OWNER
    elif not active:
        return DerivedAccess(OrgRole.MEMBER, frozenset())
    else:
        role = manual_role if manual_role in (OrgRole.ADMIN, OrgRole.MEMBER) else OrgRole.MEMBER
    grants: set[tuple[int, int]] = set()
    for group_id in group_ids:
        rule = rules.get(group_id)
        if rule is None:
            continue
        if role != OrgRole.OWNER and ORG_ROLE_RANK[rule.org_role] > ORG_ROLE_RANK[role]:
            role = rule.org_role
        grants.update(rule.stack_roles)
        if rule.all_stacks_role_id is not None:
            grants.update((stack_id, rule.all_stacks_role_id) for stack_id in stack_ids)
    return DerivedAccess(role, frozenset(grants))


@dataclass(frozen=True)
class AccessExplanation:
    """Which of a member's groups grant what: the "why" behind derived access."""

    org_role_groups: dict[str, frozenset[int]]  # org role -> mapped groups granting it
    stack_role_groups: dict[tuple[int, int], frozenset[int]]  # (stack_id, role_id) -> groups


def explain_access(
    *,
    group_ids: frozenset[int] | set[int],
    rules: dict[int, MappingRule],
    stack_ids: frozenset[int] | set[int],
) -> AccessExplanation:
    """The groups behind each role a member's mapped groups grant. Kept next to
    derive_access so the page that explains access and the code that applies it
    read the same rules."""
    org_roles: dict[str, set[int]] = {}
    stack_roles: dict[tuple[int, int], set[int]] = {}
    for group_id in group_ids:
        rule = rules.get(group_id)
        if rule is None:
            continue
        org_roles.setdefault(rule.org_role, set()).add(group_id)
        pairs = set(rule.stack_roles)
        if rule.all_stacks_role_id is not None:
            pairs.update((stack_id, rule.all_stacks_role_id) for stack_id in stack_ids)
        for pair in pairs:
            stack_roles.setdefault(pair, set()).add(group_id)
    return AccessExplanation(
        {role: frozenset(groups) for role, groups in org_roles.items()},
        {pair: frozenset(groups) for pair, groups in stack_roles.items()},
    )
