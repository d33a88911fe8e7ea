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
from dataclasses import dataclass, fields
from functools import cache

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, Exists, OuterRef, Q, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from organizations import audit
from organizations.audit import Actor
from organizations.audit_actions import ACCESS_RECOMPUTE
from organizations.models import Membership, Organization, OrgRole, Stack, StackAccess
from organizations.transactions import service_atomic
from scim import rawsql
from scim.models import ScimGroupMember

from .engine import BY_HAND_SOURCE, DERIVED_SOURCE, UNCHANGED_ORG_ROLE, MappingRule, derive_access
from .models import GroupMapping, GroupMappingStackRole, RecomputeJob

# Memberships re-derived per transaction. Each batch costs a constant number of
# queries (tests/mappings/test_services.py pins it), whatever its size.
BATCH_SIZE = 500
MEMBERSHIP_TARGET = Membership._meta.label_lower  # the audit entries' target type


# --- the rules as query filters -----------------------------------------------
# The SQL paths (mappings.preview, mappings.consistency, the last-admin check in
# mappings.services) build on these, each one rule of mappings.engine written
# once; tests/mappings/test_access_rules_property.py proves them equal to it.


def unlooked(pk: int) -> RawSQL:
    """An id compared as `(SELECT %s)`, as organizations.paging.in_org compares
    the org: PostgreSQL plans for an average group (or org) instead of looking
    the id up in statistics that may predate it. A group an identity provider
    has just filled looks as if it held a row or two; a per-member test "in
    one of these groups" was then planned as a walk of the groups' members for
    each member, not a probe of the (membership, group) index."""
    return RawSQL("SELECT %s", (pk,), output_field=BigIntegerField())


def _one_of_groups(group_ids) -> Q:
    """group_id = (SELECT a) OR group_id = (SELECT b) ...: see unlooked."""
    q = Q(pk__in=[])
    for pk in sorted(group_ids):
        q |= Q(group_id=unlooked(pk))
    return q


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
    return Exists(links.filter(_one_of_groups(admin_group_ids)))


def in_any_group(group_ids, *, membership_ref: str = "pk") -> Exists:
    """Rule 2: the membership is in one of these groups (mapped groups granting something)."""
    links = ScimGroupMember.objects.filter(membership_id=OuterRef(membership_ref))
    return Exists(links.filter(_one_of_groups(group_ids)))


def listed_in_groups(group_ids, *, membership_field: str = "pk") -> Q:
    """Rule 2, as in_any_group, for a statement over many rows of a few groups:
    an IN over the groups' members, which PostgreSQL hashes once. Planned as a
    per-row EXISTS, groups an identity provider has just filled were walked for
    each row even with their ids unlooked (mappings.preview's losses)."""
    links = ScimGroupMember.objects.filter(_one_of_groups(group_ids))
    return Q(**{f"{membership_field}__in": links.values("membership_id")})


def also_by_hand(stack_id: int, role_id: int, *, membership_field: str = "membership_id") -> Q:
    """Rule 4: the membership also holds (stack, role) by hand, so the derived
    row's going changes nothing it holds. An IN over the pair's grants by hand
    (a few rows), not a test per row: PostgreSQL hashes that list once, where
    a correlated EXISTS on a stack its statistics do not know yet was planned
    as a walk of the stack's grants for every member."""
    by_hand = StackAccess.objects.filter(stack_id=stack_id, role_id=role_id, source=BY_HAND_SOURCE)
    return Q(**{f"{membership_field}__in": by_hand.values("membership_id")})


# --- the engine, applied ------------------------------------------------------


def load_rules(organization_id: int) -> dict[int, MappingRule]:
    """Every mapping of the org as pure rules, keyed by group id (one query: the
    mappings outer-joined with their per-stack grants)."""
    gm, gsr = GroupMapping, GroupMappingStackRole
    sql = (
        f"SELECT {_col(gm, 'group')}, {_col(gm, 'org_role')}, {_col(gm, 'all_stacks_role')}, "
        f"{_col(gsr, 'stack')}, {_col(gsr, 'role')} FROM {_table(gm)} "
        f"LEFT OUTER JOIN {_table(gsr)} ON {_col(gsr, 'mapping')} = {_col(gm, 'id')} "
        f"WHERE {_col(gm, 'organization')} = %s"
    )
    found: dict[int, tuple[str, int | None, set[tuple[int, int]]]] = {}
    for group_id, org_role, all_stacks_role_id, stack_id, role_id in rawsql.fetch(sql, [organization_id]):
        pairs = found.setdefault(group_id, (org_role, all_stacks_role_id, set()))[2]
        if stack_id is not None:
            pairs.add((stack_id, role_id))
    return {
        group_id: MappingRule(
            group_id=group_id, org_role=org_role, stack_roles=frozenset(pairs), all_stacks_role_id=all_stacks_role_id
        )
        for group_id, (org_role, all_stacks_role_id, pairs) in found.items()
    }


# --- the recompute's statements -----------------------------------------------
# Plain SQL written from the models' names, one statement per kind of read or
# write whatever the batch's size: the ORM spent more time compiling these
# statements, and building a model instance per row read or written (an audit
# entry per member), than the database took to run them. What they read and
# write is what the rules say; the difference itself is derive_access's, and
# tests/mappings/test_access_rules_property.py sends every kind of event through
# this code.


@cache
def _table(model) -> str:
    return rawsql.qn(model._meta.db_table)


@cache
def _col(model, name: str, *, bare: bool = False) -> str:
    column = rawsql.qn(model._meta.get_field(name).column)
    return column if bare else f"{_table(model)}.{column}"


@dataclass(slots=True)
class Member:
    """What deriving access reads of one membership (locked), and its org role as written."""

    pk: int
    organization_id: int
    role: str
    manual_role: str
    active: bool
    scim_username: str


def _lock(ids: list[int], *, if_group_mapped: int | None = None) -> list[Member]:
    """Lock the memberships in id order (two recomputes of overlapping members
    serialise instead of deadlocking) and read what deriving reads of them.
    if_group_mapped: only if that group has a mapping, else lock and read
    nothing (its members' access cannot have changed): one statement for both."""
    m, gm = Membership, GroupMapping
    names = ["id"] + [f.name for f in fields(Member) if f.name != "pk"]
    in_members, params = rawsql.in_ids(ids)
    sql = f"SELECT {', '.join(_col(m, name) for name in names)} FROM {_table(m)} WHERE {_col(m, 'id')} {in_members}"
    if if_group_mapped is not None:
        sql += f" AND EXISTS (SELECT 1 FROM {_table(gm)} WHERE {_col(gm, 'group')} = %s)"
        params.append(if_group_mapped)
    sql += f" ORDER BY {_col(m, 'id')}"
    if connection.features.has_select_for_update:
        sql += " " + connection.ops.for_update_sql()
    return [
        Member(pk, org_id, role, manual_role, bool(active), username)
        for pk, org_id, role, manual_role, active, username in rawsql.fetch(sql, params)
    ]


def _read_facts(organization_id: int, ids: list[int], rules: dict[int, MappingRule]):
    """The members' mapped groups, their DERIVED_SOURCE rows and, when an
    all-stacks mapping needs them, the org's stacks (rule 3): one statement,
    each row tagged with what it is."""
    link, a = ScimGroupMember, StackAccess
    parts, params = [], []
    in_members, member_params = rawsql.in_ids(ids)
    if rules:
        in_groups, group_params = rawsql.in_ids(list(rules))
        parts.append(
            f"SELECT 0, {_col(link, 'membership')}, {_col(link, 'group')}, 0, 0 FROM {_table(link)} "
            f"WHERE {_col(link, 'membership')} {in_members} AND {_col(link, 'group')} {in_groups}"
        )
        params += [*member_params, *group_params]
    parts.append(
        f"SELECT 1, {_col(a, 'membership')}, {_col(a, 'id')}, {_col(a, 'stack')}, {_col(a, 'role')} FROM {_table(a)} "
        f"WHERE {_col(a, 'membership')} {in_members} AND {_col(a, 'source')} = %s"
    )
    params += [*member_params, DERIVED_SOURCE]
    if any(rule.all_stacks_role_id is not None for rule in rules.values()):
        parts.append(
            f"SELECT 2, 0, {_col(Stack, 'id')}, 0, 0 FROM {_table(Stack)} WHERE {_col(Stack, 'organization')} = %s"
        )
        params.append(organization_id)
    groups_of: dict[int, set[int]] = defaultdict(set)
    held: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)  # member -> (stack, role) -> row id
    stack_ids: set[int] = set()
    for kind, membership_id, value, stack_id, role_id in rawsql.fetch(" UNION ALL ".join(parts), params):
        if kind == 0:
            groups_of[membership_id].add(value)
        elif kind == 1:
            held[membership_id][(stack_id, role_id)] = value
        else:
            stack_ids.add(value)
    return groups_of, held, frozenset(stack_ids)


def _delete_grants(row_ids: list[int]) -> None:
    a = StackAccess
    in_rows, params = rawsql.in_ids(row_ids)
    rawsql.write(f"DELETE FROM {_table(a)} WHERE {_col(a, 'id', bare=True)} {in_rows}", params)


def _insert_grants(rows: list[tuple[int, int, int]]) -> None:
    """New DERIVED_SOURCE rows (membership, stack, role), in one statement; a
    grant a concurrent recompute inserted first is kept (conflicts ignored)."""
    if connection.vendor != "postgresql":
        StackAccess.objects.bulk_create(
            (StackAccess(membership_id=m, stack_id=s, role_id=r, source=DERIVED_SOURCE) for m, s, r in rows),
            batch_size=1000, ignore_conflicts=True,
        )
        return
    a = StackAccess
    columns = ", ".join(_col(a, name, bare=True) for name in ("membership", "stack", "role", "source", "created_at"))
    membership_ids, stack_ids, role_ids = (list(column) for column in zip(*rows))
    rawsql.write(
        f"INSERT INTO {_table(a)} ({columns}) SELECT unnest(%s::bigint[]), unnest(%s::bigint[]), "
        "unnest(%s::bigint[]), %s, %s ON CONFLICT DO NOTHING",
        [membership_ids, stack_ids, role_ids, DERIVED_SOURCE, timezone.now()],
    )


def _set_role(role: str, membership_ids: list[int]) -> None:
    m = Membership
    in_members, params = rawsql.in_ids(membership_ids)
    sql = f"UPDATE {_table(m)} SET {_col(m, 'role', bare=True)} = %s WHERE {_col(m, 'id', bare=True)} {in_members}"
    rawsql.write(sql, [role, *params])


def _apply_batch(organization: Organization, memberships: list, *, actor: Actor) -> int:
    """Re-derive a batch of (already locked) memberships of one org and write the
    difference. Constant statement count: the org's rules, then the members'
    groups and held rows in one read, then at most one DELETE, one INSERT, one
    UPDATE per resulting org role and one audit INSERT. `memberships`: Member
    rows, or Membership instances; each one's `role` is set to the role written.

    Rules are read here, after the rows are locked, not once per job: when two
    recomputes of the same org overlap (a mapping edited twice in a row), a batch
    that runs later always applies the newer mapping."""
    rules = load_rules(organization.pk)
    ids = [m.pk for m in memberships]
    groups_of, held, stack_ids = _read_facts(organization.pk, ids, rules)

    to_add: list[tuple[int, int, int]] = []
    remove_ids: list[int] = []
    new_roles: dict[str, list[int]] = defaultdict(list)
    entries = []
    for m in memberships:
        derived = derive_access(
            active=m.active,
            current_role=m.role,
            manual_role=m.manual_role,
            group_ids=groups_of.get(m.pk, ()),
            rules=rules,
            stack_ids=stack_ids,
        )
        current = held.get(m.pk, {})
        added = derived.stack_roles - current.keys()
        removed = current.keys() - derived.stack_roles
        role_changed = derived.org_role != m.role
        if not (added or removed or role_changed):
            continue
        to_add.extend((m.pk, s, r) for s, r in added)
        remove_ids.extend(current[pair] for pair in removed)
        before = {"role": m.role, "stack_roles": sorted(map(list, current))}
        if role_changed:
            m.role = derived.org_role
            new_roles[m.role].append(m.pk)
        after = {"role": derived.org_role, "stack_roles": sorted(map(list, derived.stack_roles))}
        entries.append((m.pk, m.scim_username, before, after))
    if remove_ids:
        _delete_grants(remove_ids)
    if to_add:
        _insert_grants(to_add)
    for role, role_ids in sorted(new_roles.items()):  # one UPDATE per resulting role (at most three)
        _set_role(role, role_ids)
    return audit.record_each(organization, actor, ACCESS_RECOMPUTE, MEMBERSHIP_TARGET, entries)


@service_atomic
def recompute_memberships(
    membership_ids: Iterable[int], *, actor: Actor, organization: Organization | None = None,
    if_group_mapped: int | None = None,
) -> int:
    """Re-derive access for these memberships now; returns how many changed.
    `organization`: theirs, when the caller has it (saves reading it).
    `if_group_mapped`: a group id; only if it has a mapping (else nothing is
    locked, read or written): a change of an unmapped group's members changes
    nobody's access.

    Rows are locked in primary-key order, so two recomputes of overlapping
    members serialise instead of deadlocking; ids of deleted memberships are
    skipped (their access rows went with them)."""
    ids = sorted(set(membership_ids))
    if not ids:
        return 0
    changed = 0
    orgs: dict[int, Organization] = {organization.pk: organization} if organization is not None else {}
    for start in range(0, len(ids), BATCH_SIZE):
        by_org: dict[int, list[Member]] = defaultdict(list)
        for m in _lock(ids[start : start + BATCH_SIZE], if_group_mapped=if_group_mapped):
            by_org[m.organization_id].append(m)
        for org_id, memberships in by_org.items():
            if org_id not in orgs:
                orgs[org_id] = Organization.objects.get(pk=org_id)
            changed += _apply_batch(orgs[org_id], memberships, actor=actor)
    return changed


def recompute_locked(membership: Membership, *, actor: Actor) -> int:
    """Re-derive one membership its caller has locked and read in this
    transaction (a state change): no second lock, no read of the org."""
    return _apply_batch(membership.organization, [membership], actor=actor)


def apply_deactivation(membership: Membership, *, actor: Actor) -> int:
    """Rule 6 for one membership just deactivated (locked by its caller): it
    derives nothing whatever its groups and the org's mappings, so neither is
    read; its derived rows go and its org role returns to the base (the
    Owner's stays). Writes and audits what recompute_memberships would."""
    derived = derive_access(
        active=False, current_role=membership.role, manual_role=membership.manual_role,
        group_ids=set(), rules={}, stack_ids=set(),
    )
    held = list(
        StackAccess.objects.filter(membership_id=membership.pk, source=DERIVED_SOURCE).values_list(
            "pk", "stack_id", "role_id"
        )
    )
    role_changed = derived.org_role != membership.role
    if not (held or role_changed):
        return 0
    if held:
        StackAccess.objects.filter(pk__in=[pk for pk, _, _ in held]).delete()
    before = {"role": membership.role, "stack_roles": sorted([s, r] for _, s, r in held)}
    if role_changed:
        Membership.objects.filter(pk=membership.pk).update(role=derived.org_role)
        membership.role = derived.org_role
    after = {"role": derived.org_role, "stack_roles": []}
    return audit.record_each(
        membership.organization, actor, ACCESS_RECOMPUTE, MEMBERSHIP_TARGET,
        [(membership.pk, membership.scim_username, before, after)],
    )


def job_actor(job: RecomputeJob) -> Actor:
    """The actor a background job writes its audit entries as."""
    return job.actor_user or job.actor_installation
