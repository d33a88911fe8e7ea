""""Why does this member have this role?" One function builds the answer for the
admin page, the `access_report` command and the REST endpoint alike, in a
constant number of queries however many members the org has."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet

from organizations.models import AccessSource, Membership, Organization, OrgRole, Stack, StackAccess, StackRole
from organizations.paging import in_org
from scim.models import ScimGroupMember

from .engine import explain_access
from .access import load_rules

SOURCE_OWNER = "owner"


def _sources(manual: bool, group_ids, group_names: dict[int, str]) -> dict[str, Any]:
    return {"manual": manual, "groups": sorted(group_names[g] for g in group_ids if g in group_names)}


def access_report(
    org: Organization, memberships: QuerySet[Membership] | list[Membership] | None = None
) -> list[dict[str, Any]]:
    """Per membership: who it is, its effective org role and stack roles as stored,
    its groups, and for each role what grants it (`manual` and/or group names).

    `memberships` narrows the report (a page of the API, one member's page);
    by default it covers the whole org. Stored rows are reported, not a fresh
    derivation, so the report shows what people actually hold right now."""
    if memberships is None:
        memberships = Membership.objects.filter(organization=org)
    if isinstance(memberships, QuerySet):
        # The org as a parameter (in_org): compared plainly, an org grown since the
        # last ANALYZE was walked to find the few members asked for.
        memberships = list(memberships.filter(in_org(org)).select_related("user").order_by("pk"))
    ids = [m.pk for m in memberships]
    if not ids:
        return []

    rules = load_rules(org.pk)
    stacks = {s.pk: s.name for s in Stack.objects.filter(organization=org).only("pk", "name")}
    role_names = {r.pk: r.name for r in StackRole.available_to(org).only("pk", "name")}
    groups_of: dict[int, set[int]] = defaultdict(set)
    group_names: dict[int, str] = {}
    for membership_id, group_id, name in ScimGroupMember.objects.filter(membership_id__in=ids, group__organization=org).values_list(
        "membership_id", "group_id", "group__display_name"
    ):
        groups_of[membership_id].add(group_id)
        group_names[group_id] = name
    held: dict[int, dict[tuple[int, int], set[str]]] = defaultdict(lambda: defaultdict(set))
    for membership_id, stack_id, role_id, source in StackAccess.objects.filter(membership_id__in=ids).values_list(
        "membership_id", "stack_id", "role_id", "source"
    ):
        held[membership_id][(stack_id, role_id)].add(source)

    report = []
    for m in memberships:
        group_ids = groups_of.get(m.pk, set())
        why = explain_access(group_ids=group_ids, rules=rules, stack_ids=stacks.keys())
        if m.role == OrgRole.OWNER:
            org_role_sources = {SOURCE_OWNER: True, "manual": False, "groups": []}
        else:
            org_role_sources = {
                SOURCE_OWNER: False,
                **_sources(
                    m.manual_role == m.role, why.org_role_groups.get(m.role, ()) if m.active else (), group_names
                ),
            }
        stack_roles: dict[str, list[str]] = {}
        stack_sources: dict[str, dict[str, dict[str, Any]]] = {}
        for (stack_id, role_id), sources in sorted(
            held.get(m.pk, {}).items(), key=lambda item: (stacks.get(item[0][0], ""), role_names.get(item[0][1], ""))
        ):
            stack, role = stacks.get(stack_id), role_names.get(role_id)
            if stack is None or role is None:
                continue
            stack_roles.setdefault(stack, []).append(role)
            granting = why.stack_role_groups.get((stack_id, role_id), ()) if AccessSource.SCIM in sources else ()
            stack_sources.setdefault(stack, {})[role] = _sources(AccessSource.MANUAL in sources, granting, group_names)
        report.append(
            {
                "id": m.pk,
                "email": m.user.email,
                "userName": m.scim_username,
                "active": m.active,
                "org_role": m.role,
                "manual_role": m.manual_role,
                "org_role_sources": org_role_sources,
                "stack_roles": stack_roles,
                "stack_role_sources": stack_sources,
                "groups": sorted(group_names[g] for g in group_ids),
                "mapped_groups": sorted(group_names[g] for g in group_ids if g in rules),
            }
        )
    return report
