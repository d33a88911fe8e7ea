"""The access rules, stated once, and the engine's pure core that applies them.

The rules (what a membership's access is, from its facts):

1. Org role: the highest (ORG_ROLE_RANK) of the role granted by hand
   (`Membership.manual_role`) and the org roles of the member's mapped groups;
   BASE_ORG_ROLE (Member) when nothing grants more.
2. Stack roles: the union, over the member's mapped groups, of what each
   mapping grants.
3. All-stacks: a mapping's `all_stacks_role` grants that role on every stack
   of the org, stacks created later included.
4. Granted by hand, kept: `manual_role` is only read, and StackAccess rows
   with source BY_HAND_SOURCE are never touched. The engine writes only
   `Membership.role` and its own rows (DERIVED_SOURCE); what a member holds is
   the derived rows plus the rows granted by hand.
5. The Owner (UNCHANGED_ORG_ROLE): its org role is never changed; it gets the
   stack roles of its groups like anyone.
6. Deactivated: a deactivated membership derives nothing: no stack roles and
   the base org role (its rows granted by hand stay, and give nothing while
   it is deactivated).

`derive_access` below is these rules for one membership: no database here, so
they are table-testable (tests/mappings/test_engine.py). The other places that
compute access in SQL -- the mapping preview (mappings.preview), the choice of
whom the consistency pass re-derives (mappings.consistency) and the
last-admin check of a mapping edit (mappings.services) -- build their filters
from the constants here and the query builders in mappings.access, and
tests/mappings/test_access_rules_property.py proves each of them, and every
writing path, equal to `derive_access` on random orgs."""
from __future__ import annotations

from dataclasses import dataclass, field

from organizations.models import ORG_ROLE_RANK, AccessSource, OrgRole

BASE_ORG_ROLE = OrgRole.MEMBER  # rule 1 and 6
UNCHANGED_ORG_ROLE = OrgRole.OWNER  # rule 5
HAND_ORG_ROLES = (OrgRole.ADMIN, OrgRole.MEMBER)  # rule 1: the roles a manual_role can raise to
DERIVED_SOURCE = AccessSource.SCIM  # rule 4: the rows the engine writes
BY_HAND_SOURCE = AccessSource.MANUAL  # rule 4: the rows it never touches


@dataclass(frozen=True)
class MappingRule:
    """What one mapped group grants."""

    group_id: int
    org_role: str
    stack_roles: frozenset[tuple[int, int]] = frozenset()  # (stack_id, role_id)
    all_stacks_role_id: int | None = None

    def pairs(self, stack_ids) -> frozenset[tuple[int, int]]:
        return mapped_pairs(self.stack_roles, self.all_stacks_role_id, stack_ids)


def mapped_pairs(stack_roles, all_stacks_role_id: int | None, stack_ids) -> frozenset[tuple[int, int]]:
    """The (stack, role) pairs one mapping grants: its per-stack grants, and its
    all-stacks role on every stack of the org (rule 3)."""
    pairs = set(stack_roles)
    if all_stacks_role_id is not None:
        pairs.update((stack_id, all_stacks_role_id) for stack_id in stack_ids)
    return frozenset(pairs)


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
    """The rules above (1-6) for one membership. `current_role` is read only to
    know the Owner; the result's stack roles are the derived ones (rule 4: the
    rows granted by hand are not part of it)."""
    if current_role == UNCHANGED_ORG_ROLE:
        if not active:
            return DerivedAccess(UNCHANGED_ORG_ROLE, frozenset())
        role = UNCHANGED_ORG_ROLE
    elif not active:
        return DerivedAccess(BASE_ORG_ROLE, frozenset())
    else:
        role = manual_role if manual_role in HAND_ORG_ROLES else BASE_ORG_ROLE
    grants: set[tuple[int, int]] = set()
    for group_id in group_ids:
        rule = rules.get(group_id)
        if rule is None:
            continue
        if role != UNCHANGED_ORG_ROLE and ORG_ROLE_RANK[rule.org_role] > ORG_ROLE_RANK[role]:
            role = rule.org_role
        grants.update(rule.pairs(stack_ids))
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
        for pair in rule.pairs(stack_ids):
            stack_roles.setdefault(pair, set()).add(group_id)
    return AccessExplanation(
        {role: frozenset(groups) for role, groups in org_roles.items()},
        {pair: frozenset(groups) for pair, groups in stack_roles.items()},
    )
