"""Tells organizations.role_sources (a member's home, the Members tab) which mapped SCIM
group granted each role. Registered in MappingsConfig.ready. Three queries for
a page of memberships however many orgs it spans: their groups, and the
mappings of just those groups."""
from __future__ import annotations

from collections import defaultdict

from organizations.models import AccessSource, Membership, StackAccess
from organizations.role_sources import Explanation
from scim.models import ScimGroupMember

from .engine import MappingRule, explain_access
from .models import GroupMapping


def explain_mapped_roles(memberships: list[Membership], grants: list[StackAccess]) -> Explanation:
    result = Explanation()
    by_id = {m.pk: m for m in memberships}
    if not by_id:
        return result
    groups_of: dict[int, set[int]] = defaultdict(set)
    names: dict[int, str] = {}
    for membership_id, group_id, name in ScimGroupMember.objects.filter(membership_id__in=list(by_id)).values_list(
        "membership_id", "group_id", "group__display_name"
    ):
        groups_of[membership_id].add(group_id)
        names[group_id] = name
    rules: dict[int, MappingRule] = {}
    for mapping in GroupMapping.objects.filter(group_id__in=list(names)).prefetch_related("stack_roles"):
        rules[mapping.group_id] = MappingRule(
            group_id=mapping.group_id,
            org_role=mapping.org_role,
            stack_roles=frozenset((sr.stack_id, sr.role_id) for sr in mapping.stack_roles.all()),
            all_stacks_role_id=mapping.all_stacks_role_id,
        )
    stacks_of: dict[int, set[int]] = defaultdict(set)
    for g in grants:
        if g.source == AccessSource.SCIM:
            stacks_of[g.membership_id].add(g.stack_id)
    for membership_id, membership in by_id.items():
        why = explain_access(
            group_ids=groups_of.get(membership_id, set()), rules=rules, stack_ids=stacks_of.get(membership_id, set())
        )
        org_groups = why.org_role_groups.get(membership.role, ())
        if org_groups:
            result.org_role_groups[membership_id] = sorted(names[g] for g in org_groups)
        for (stack_id, role_id), group_ids in why.stack_role_groups.items():
            result.stack_role_groups[(membership_id, stack_id, role_id)] = sorted(names[g] for g in group_ids)
    return result
