"""The access engine, applied: derive (mappings.engine) and write the difference.

This module is the only writer of SCIM-sourced StackAccess rows and of the
effective `Membership.role`. Rows with source=manual are never read for
writing, so access granted by hand survives every recompute.

Everything that re-derives access goes through `recompute_memberships`: the
inline path and the editing of mappings (mappings.services), the background
job (mappings.tasks) and the nightly consistency pass (mappings.consistency).
It imports none of them, so they depend on it one way."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import BooleanField, Exists, OuterRef, Q, Value

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import ACCESS_RECOMPUTE
from organizations.models import Membership, Organization, OrgRole, Stack, StackAccess
from scim.models import ScimGroupMember

from .engine import BY_HAND_SOURCE, DERIVED_SOURCE, UNCHANGED_ORG_ROLE, MappingRule, derive_access
from .models import GroupMapping, RecomputeJob

# Memberships re-derived per transaction. Each batch costs a constant number of
# queries (tests/mappings/test_services.py pins it), whatever its size.
BATCH_SIZE = 500



# --- the rules as query filters -----------------------------------------------
# The SQL paths (mappings.preview, mappings.consistency, the last-admin check in
# mappings.services) build on these, each one rule of mappings.engine written
# once; tests/mappings/test_access_rules_property.py proves them equal to it.


def derives(prefix: str = "") -> Q:
    """Rule 6: the memberships that derive access (a deactivated one derives nothing)."""
    return Q(**{f"{prefix}active": True})


def org_role_derived(prefix: str = "") -> Q:
    """Rule 5: the memberships whose org role the engine sets (everyone but the Owner)."""
    return ~Q(**{f"{prefix}role": UNCHANGED_ORG_ROLE})


def admin_by_hand(prefix: str = "") -> Q:
    """Rule 1 and 4: Admin granted by hand, which no mapping lowers."""
    return Q(**{f"{prefix}manual_role": OrgRole.ADMIN})


def admin_through_another_group(group_id: int, *, admin_group_ids: list[int] | None = None, membership_ref: str = "pk"):
    """Rule 1: the membership is in a group other than `group_id` that is mapped
    to Admin. `admin_group_ids`: those groups, listed already (each row's test is
    then a plain index probe, or nothing when there are none); else joined."""
    links = ScimGroupMember.objects.filter(membership_id=OuterRef(membership_ref))
    if admin_group_ids is None:
        return Exists(links.filter(group__mapping__org_role=OrgRole.ADMIN).exclude(group_id=group_id))
    if not admin_group_ids:
        return Value(False, output_field=BooleanField())
    return Exists(links.filter(group_id__in=admin_group_ids))


def in_any_group(group_ids, *, membership_ref: str = "pk") -> Exists:
    """Rule 2: the membership is in one of these groups (mapped groups granting something)."""
    return Exists(ScimGroupMember.objects.filter(membership_id=OuterRef(membership_ref), group_id__in=sorted(group_ids)))


def also_by_hand(*, row_ref: str = "") -> Exists:
    """Rule 4: the same (membership, stack, role) is also granted by hand, so
    the derived row's going changes nothing the member holds."""
    return Exists(
        StackAccess.objects.filter(
            membership_id=OuterRef(f"{row_ref}membership_id"),
            stack_id=OuterRef(f"{row_ref}stack_id"),
            role_id=OuterRef(f"{row_ref}role_id"),
            source=BY_HAND_SOURCE,
        )
    )


# --- the engine, applied ------------------------------------------------------


def load_rules(organization_id: int) -> dict[int, MappingRule]:
    """Every mapping of the org as pure rules, keyed by group id (2 queries)."""
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


def _apply_batch(organization: Organization, memberships: list[Membership], *, actor: Actor) -> int:
    """Re-derive a batch of (already locked) memberships of one org and write the
    difference. Constant query count: rules (2), stacks, groups, held rows, then
    at most one insert, one delete, one update per resulting org role and one audit insert.

    Rules are read here, after the rows are locked, not once per job: when two
    recomputes of the same org overlap (a mapping edited twice in a row), a batch
    that runs later always applies the newer mapping."""
    rules = load_rules(organization.pk)
    stack_ids = frozenset(Stack.objects.filter(organization_id=organization.pk).values_list("pk", flat=True))
    ids = [m.pk for m in memberships]
    groups_of: dict[int, set[int]] = defaultdict(set)
    for membership_id, group_id in ScimGroupMember.objects.filter(
        membership_id__in=ids, group__organization_id=organization.pk
    ).values_list("membership_id", "group_id"):
        groups_of[membership_id].add(group_id)
    held: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)  # member -> (stack, role) -> row id
    for row_id, membership_id, stack_id, role_id in StackAccess.objects.filter(
        membership_id__in=ids, source=DERIVED_SOURCE
    ).values_list("pk", "membership_id", "stack_id", "role_id"):
        held[membership_id][(stack_id, role_id)] = row_id

    to_add: list[StackAccess] = []
    remove_ids: list[int] = []
    role_changes: list[Membership] = []
    events = []
    for m in memberships:
        derived = derive_access(
            active=m.active,
            current_role=m.role,
            manual_role=m.manual_role,
            group_ids=groups_of.get(m.pk, set()),
            rules=rules,
            stack_ids=stack_ids,
        )
        current = held.get(m.pk, {})
        added = derived.stack_roles - current.keys()
        removed = current.keys() - derived.stack_roles
        role_changed = derived.org_role != m.role
        if not (added or removed or role_changed):
            continue
        to_add.extend(
            StackAccess(membership_id=m.pk, stack_id=s, role_id=r, source=DERIVED_SOURCE) for s, r in added
        )
        remove_ids.extend(current[pair] for pair in removed)
        before = {"role": m.role, "stack_roles": sorted(map(list, current))}
        if role_changed:
            m.role = derived.org_role
            role_changes.append(m)
        events.append(
            audit.build_event(
                organization,
                actor,
                ACCESS_RECOMPUTE,
                target_type="organizations.membership",
                target_id=str(m.pk),
                target_label=m.scim_username,
                before=before,
                after={"role": derived.org_role, "stack_roles": sorted(map(list, derived.stack_roles))},
            )
        )
    if remove_ids:
        StackAccess.objects.filter(pk__in=remove_ids).delete()
    if to_add:
        # ignore_conflicts: a concurrent recompute may have inserted the same grant.
        StackAccess.objects.bulk_create(to_add, batch_size=1000, ignore_conflicts=True)
    if role_changes:
        # One UPDATE per resulting role (at most three), not bulk_update's CASE
        # with a branch per member, which costs far more to build than to run.
        by_role: dict[str, list[int]] = defaultdict(list)
        for m in role_changes:
            by_role[m.role].append(m.pk)
        for role, role_ids in sorted(by_role.items()):
            Membership.objects.filter(pk__in=role_ids).update(role=role)
    if events:
        audit.bulk_record(events)
    return len(events)


@transaction.atomic
def recompute_memberships(membership_ids: Iterable[int], *, actor: Actor) -> int:
    """Re-derive access for these memberships now; returns how many changed.

    Rows are locked in primary-key order, so two recomputes of overlapping
    members serialise instead of deadlocking; ids of deleted memberships are
    skipped (their access rows went with them)."""
    ids = sorted(set(membership_ids))
    if not ids:
        return 0
    changed = 0
    orgs: dict[int, Organization] = {}
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        by_org: dict[int, list[Membership]] = defaultdict(list)
        locked = Membership.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        # Only what deriving access reads and writes (not the SCIM profile and its JSON).
        for m in locked.only("pk", "organization_id", "role", "manual_role", "active", "scim_username"):
            by_org[m.organization_id].append(m)
        for org_id, memberships in by_org.items():
            if org_id not in orgs:
                orgs[org_id] = Organization.objects.get(pk=org_id)
            changed += _apply_batch(orgs[org_id], memberships, actor=actor)
    return changed


def job_actor(job: RecomputeJob) -> Actor:
    """The actor a background job writes its audit entries as."""
    return job.actor_user or job.actor_installation
