"""Applying derived access to the stored rows. The only writer of SCIM-sourced
StackAccess rows and of the effective `Membership.role`."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from organizations import audit
from organizations.audit import Actor
from organizations.models import AccessSource, Membership, Organization, OrgRole, Stack, StackAccess

from .engine import DerivedAccess, MappingRule, derive_access
from .models import GroupMapping

BATCH_SIZE = 500


def load_rules(organization_id: int) -> dict[int, MappingRule]:
    rules: dict[int, MappingRule] = {}
    mappings = GroupMapping.objects.filter(organization_id=organization_id).prefetch_related("stack_roles")
    for mapping in mappings:
        rules[mapping.group_id] = MappingRule(
            group_id=mapping.group_id,
            org_role=mapping.org_role,
            stack_roles=frozenset((sr.stack_id, sr.role_id) for sr in mapping.stack_roles.all()),
            all_stacks_role_id=mapping.all_stacks_role_id,
        )
    return rules


def _apply_batch(
    organization: Organization,
    memberships: list[Membership],
    rules: dict[int, MappingRule],
    stack_ids: frozenset[int],
    *,
    actor: Actor,
) -> int:
    """Recompute a batch in a constant number of queries; return how many changed."""
    from scim.models import ScimGroupMember

    ids = [m.pk for m in memberships]
    groups_of: dict[int, set[int]] = defaultdict(set)
    for membership_id, group_id in ScimGroupMember.objects.filter(membership_id__in=ids).values_list(
        "membership_id", "group_id"
    ):
        groups_of[membership_id].add(group_id)
    held: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for membership_id, stack_id, role_id in StackAccess.objects.filter(
        membership_id__in=ids, source=AccessSource.SCIM
    ).values_list("membership_id", "stack_id", "role_id"):
        held[membership_id].add((stack_id, role_id))

    to_add: list[StackAccess] = []
    to_remove: list[tuple[int, int, int]] = []
    role_changes: list[Membership] = []
    events = []
    for m in memberships:
        derived: DerivedAccess = derive_access(
            active=m.active,
            current_role=m.role,
            manual_role=m.manual_role,
            group_ids=groups_of.get(m.pk, set()),
            rules=rules,
            stack_ids=stack_ids,
        )
        current = held.get(m.pk, set())
        added = derived.stack_roles - current
        removed = current - derived.stack_roles
        role_changed = derived.org_role != m.role
        if not (added or removed or role_changed):
            continue
        to_add.extend(
            StackAccess(membership_id=m.pk, stack_id=s, role_id=r, source=AccessSource.SCIM) for s, r in added
        )
        to_remove.extend((m.pk, s, r) for s, r in removed)
        before = {"role": m.role, "stack_roles": sorted(map(list, current))}
        if role_changed:
            m.role = derived.org_role
            role_changes.append(m)
        events.append(
            audit.build_event(
                organization,
                actor,
                "access.recompute",
                target_type="organizations.membership",
                target_id=str(m.pk),
                target_label=m.scim_username,
                before=before,
                after={"role": derived.org_role, "stack_roles": sorted(map(list, derived.stack_roles))},
            )
        )
    if to_add:
        StackAccess.objects.bulk_create(to_add, batch_size=1000, ignore_conflicts=True)
    if to_remove:
        by_member: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for membership_id, s, r in to_remove:
            by_member[membership_id].append((s, r))
        from django.db.models import Q

        condition = Q()
        for membership_id, pairs in by_member.items():
            for s, r in pairs:
                condition |= Q(membership_id=membership_id, stack_id=s, role_id=r)
        StackAccess.objects.filter(condition, source=AccessSource.SCIM).delete()
    if role_changes:
        Membership.objects.bulk_update(role_changes, ["role"], batch_size=1000)
    if events:
        audit.bulk_record(events)
    return len(events)


@transaction.atomic
def recompute_memberships(membership_ids: Iterable[int], *, actor: Actor) -> int:
    """Re-derive access for these memberships now; returns how many changed.
    Rows are locked so two recomputes of the same members serialise."""
    ids = sorted(set(membership_ids))
    if not ids:
        return 0
    changed = 0
    by_org: dict[int, list[Membership]] = defaultdict(list)
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        for m in Membership.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
            by_org[m.organization_id].append(m)
    for org_id, memberships in by_org.items():
        organization = Organization.objects.get(pk=org_id)
        rules = load_rules(org_id)
        stack_ids = frozenset(Stack.objects.filter(organization_id=org_id).values_list("pk", flat=True))
        for start in range(0, len(memberships), BATCH_SIZE):
            changed += _apply_batch(
                organization, memberships[start : start + BATCH_SIZE], rules, stack_ids, actor=actor
            )
    return changed


def stack_created(stack: Stack, *, actor: Actor) -> None:
    """A new stack gains the roles of every all-stacks mapping."""
    groups = GroupMapping.objects.filter(
        organization_id=stack.organization_id, all_stacks_role__isnull=False
    ).values_list("group_id", flat=True)
    if not groups:
        return
    from scim.models import ScimGroupMember

    member_ids = ScimGroupMember.objects.filter(group_id__in=list(groups)).values_list("membership_id", flat=True)
    recompute_memberships(list(member_ids.distinct()), actor=actor)


def group_members_changed(membership_ids: Iterable[int], *, actor: Actor) -> int:
    """The one call the SCIM API makes after any change to group membership,
    a group's deletion, or a user's activation state."""
    return recompute_memberships(membership_ids, actor=actor)
