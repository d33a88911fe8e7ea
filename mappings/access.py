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
from django.db.models import BooleanField, Exists, OuterRef, Q, Value
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
    """Every mapping of the org as pure rules, keyed by group id (one query: the
    mappings outer-joined with their per-stack grants)."""
    found: dict[int, tuple[str, int | None, set[tuple[int, int]]]] = {}
    for group_id, org_role, all_stacks_role_id, stack_id, role_id in rawsql.fetch(_sql().rules, [organization_id]):
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
# Plain SQL, its text built once from the models: a recompute of 100 members runs
# a handful of statements, and the ORM spent more time compiling them (and
# building a model instance per row read or written) than the database took to
# run them. What they read and write is what the rules above say; the
# difference itself is derive_access's (tests/mappings/test_access_rules_property.py
# runs every event through this code).


@dataclass(slots=True)
class Member:
    """What deriving access reads of one membership (locked), and its org role as written."""

    pk: int
    organization_id: int
    role: str
    manual_role: str
    active: bool
    scim_username: str


def _column(model, name: str, table: bool = True) -> str:
    field = model._meta.get_field(name)
    column = rawsql.qn(field.column)
    return f"{rawsql.qn(model._meta.db_table)}.{column}" if table else column


@dataclass(frozen=True)
class _Statements:
    member: str  # SELECT list of Member, from the membership table
    rules: str
    links: str  # membership, group: (member ids), (group ids) to fill in
    held: str  # membership, row id, stack, role of DERIVED_SOURCE rows: (member ids)
    stacks: str
    lock: str  # (member ids); then optionally the mapped-group test
    mapped: str
    membership_table: str
    membership_pk: str
    membership_role: str
    access_table: str
    access_pk: str
    access_columns: str


@cache
def _sql() -> _Statements:
    m, a, link, gm, gsr = Membership, StackAccess, ScimGroupMember, GroupMapping, GroupMappingStackRole
    member = ", ".join(_column(m, f.name) for f in fields(Member) if f.name != "pk")
    return _Statements(
        member=f"{_column(m, 'id')}, {member}",
        rules=(
            f"SELECT {_column(gm, 'group')}, {_column(gm, 'org_role')}, {_column(gm, 'all_stacks_role')}, "
            f"{_column(gsr, 'stack')}, {_column(gsr, 'role')} FROM {rawsql.qn(gm._meta.db_table)} "
            f"LEFT OUTER JOIN {rawsql.qn(gsr._meta.db_table)} ON {_column(gsr, 'mapping')} = {_column(gm, 'id')} "
            f"WHERE {_column(gm, 'organization')} = %s"
        ),
        links=(
            f"SELECT 0, {_column(link, 'membership')}, {_column(link, 'group')}, 0, 0 "
            f"FROM {rawsql.qn(link._meta.db_table)} WHERE {_column(link, 'membership')} IN ({{members}}) "
            f"AND {_column(link, 'group')} IN ({{groups}})"
        ),
        held=(
            f"SELECT 1, {_column(a, 'membership')}, {_column(a, 'id')}, {_column(a, 'stack')}, {_column(a, 'role')} "
            f"FROM {rawsql.qn(a._meta.db_table)} WHERE {_column(a, 'membership')} IN ({{members}}) "
            f"AND {_column(a, 'source')} = %s"
        ),
        stacks=(
            f"SELECT 2, 0, {_column(Stack, 'id')}, 0, 0 FROM {rawsql.qn(Stack._meta.db_table)} "
            f"WHERE {_column(Stack, 'organization')} = %s"
        ),
        lock=f"FROM {rawsql.qn(m._meta.db_table)} WHERE {_column(m, 'id')} IN ({{members}})",
        mapped=f"EXISTS (SELECT 1 FROM {rawsql.qn(gm._meta.db_table)} WHERE {_column(gm, 'group')} = %s)",
        membership_table=rawsql.qn(m._meta.db_table),
        membership_pk=_column(m, "id", table=False),
        membership_role=_column(m, "role", table=False),
        access_table=rawsql.qn(a._meta.db_table),
        access_pk=_column(a, "id", table=False),
        access_columns=", ".join(_column(a, name, table=False) for name in ("membership", "stack", "role", "source", "created_at")),
    )


def _lock(ids: list[int], *, if_group_mapped: int | None = None) -> list[Member]:
    """Lock the memberships in id order (two recomputes of overlapping members
    serialise instead of deadlocking) and read what deriving reads of them.
    if_group_mapped: only if that group has a mapping, else lock and read
    nothing (its members' access cannot have changed): one statement for both."""
    sql = f"SELECT {_sql().member} " + _sql().lock.format(members=rawsql.placeholders(len(ids)))
    params: list = list(ids)
    if if_group_mapped is not None:
        sql += f" AND {_sql().mapped}"
        params.append(if_group_mapped)
    sql += f" ORDER BY {_column(Membership, 'id')}"
    if connection.features.has_select_for_update:
        sql += " " + connection.ops.for_update_sql()
    return [
        Member(pk, org_id, role, manual_role, bool(active), username)
        for pk, org_id, role, manual_role, active, username in rawsql.fetch(sql, params)
    ]


def _read_facts(organization_id: int, ids: list[int], rules: dict[int, MappingRule]):
    """The members' mapped groups, their DERIVED_SOURCE rows and, when an
    all-stacks mapping needs them, the org's stacks (rule 3): one statement."""
    members = rawsql.placeholders(len(ids))
    parts, params = [], []
    if rules:
        parts.append(_sql().links.format(members=members, groups=rawsql.placeholders(len(rules))))
        params += [*ids, *rules]
    parts.append(_sql().held.format(members=members))
    params += [*ids, DERIVED_SOURCE]
    if any(rule.all_stacks_role_id is not None for rule in rules.values()):
        parts.append(_sql().stacks)
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


def _insert_grants(rows: list[tuple[int, int, int]]) -> None:
    """New DERIVED_SOURCE rows (membership, stack, role), in one statement; a
    grant a concurrent recompute inserted first is kept (conflicts ignored)."""
    if connection.vendor != "postgresql":
        # ignore_conflicts: a concurrent recompute may have inserted the same grant.
        StackAccess.objects.bulk_create(
            (StackAccess(membership_id=m, stack_id=s, role_id=r, source=DERIVED_SOURCE) for m, s, r in rows),
            batch_size=1000, ignore_conflicts=True,
        )
        return
    membership_ids, stack_ids, role_ids = (list(column) for column in zip(*rows))
    rawsql.write(
        f"INSERT INTO {_sql().access_table} ({_sql().access_columns}) "
        "SELECT unnest(%s::bigint[]), unnest(%s::bigint[]), unnest(%s::bigint[]), %s, %s ON CONFLICT DO NOTHING",
        [membership_ids, stack_ids, role_ids, DERIVED_SOURCE, timezone.now()],
    )


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
        rawsql.write(
            f"DELETE FROM {_sql().access_table} WHERE {_sql().access_pk} IN ({rawsql.placeholders(len(remove_ids))})",
            remove_ids,
        )
    if to_add:
        _insert_grants(to_add)
    # One UPDATE per resulting role (at most three), not one per member.
    for role, role_ids in sorted(new_roles.items()):
        rawsql.write(
            f"UPDATE {_sql().membership_table} SET {_sql().membership_role} = %s "
            f"WHERE {_sql().membership_pk} IN ({rawsql.placeholders(len(role_ids))})",
            [role, *role_ids],
        )
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
