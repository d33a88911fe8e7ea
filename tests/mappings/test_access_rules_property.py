"""The access rules hold on every path that writes or predicts access (property-based).

`mappings.engine.derive_access` states the rules once. Besides it, access is
computed in SQL by the mapping preview (mappings.preview), and written by the
recompute (mappings.access) whichever way it is reached: a mapping saved or
removed (apply), a group's members changed over SCIM, a member (de)activated
or given another role by hand, a stack created (incremental), and the nightly
consistency pass (mappings.consistency), which chooses in SQL whom to re-derive.

Each test here draws a small random org -- a few members, some deactivated,
roles granted by hand (org roles and stack roles), the Owner, groups with
random members, mappings to Admin or Member with per-stack and all-stacks
grants -- builds it through the services a real request uses, and compares
what each path says or stores, for every membership, with what the pure engine
derives from the drawn facts (the oracle below reads nothing from the database
but ids). Examples are derandomized, so a CI run is reproducible; each runs in
a savepoint that is rolled back, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mappings.consistency import reconcile_organization
from mappings.engine import MappingRule, derive_access
from mappings.models import GroupMapping
from mappings.preview import REMOVED, Proposal, _label, preview_mapping
from mappings.services import delete_mapping, save_mapping
from organizations import services as org_services
from organizations.models import AccessSource, Membership, OrgRole, Stack, StackAccess
from scim import provisioning
from scim.models import ScimGroupMember
from tests import builders
from tests.builders import builtin

pytestmark = pytest.mark.django_db

RULES = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROLE_NAMES = ("Admin", "Developer", "Content Manager")
OWNER = 0  # person 0 is the org's Owner; 1..n are members


# --- the facts, as drawn ------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    org_role: str
    stack_roles: tuple[tuple[int, int], ...]  # (stack index, role index), one role per stack
    all_stacks: int | None  # role index


@dataclass(frozen=True)
class Facts:
    """An org as facts: plain indexes, so hypothesis can shrink and print it."""

    people: tuple[tuple[bool, str], ...]  # (active, role granted by hand); people[0] is the Owner
    stacks: int
    groups: tuple[frozenset[int], ...]  # members (person indexes) of each group
    mappings: tuple[tuple[int, Mapping], ...]  # (group index, its mapping)
    manual_grants: frozenset[tuple[int, int, int]]  # (person, stack, role) granted by hand

    def mapping_of(self, group: int) -> Mapping | None:
        return dict(self.mappings).get(group)

    def with_mapping(self, group: int, mapping: Mapping | None) -> "Facts":
        rest = tuple((g, m) for g, m in self.mappings if g != group)
        return replace(self, mappings=rest + (((group, mapping),) if mapping else ()))


def mappings_of(stacks: int):
    return st.builds(
        Mapping,
        org_role=st.sampled_from([OrgRole.ADMIN, OrgRole.MEMBER]),
        stack_roles=st.dictionaries(st.integers(0, stacks - 1), st.integers(0, len(ROLE_NAMES) - 1), max_size=2).map(
            lambda d: tuple(sorted(d.items()))
        ),
        all_stacks=st.one_of(st.none(), st.integers(0, len(ROLE_NAMES) - 1)),
    )


@st.composite
def orgs(draw) -> Facts:
    n = draw(st.integers(1, 4))
    stacks = draw(st.integers(1, 3))
    people = ((True, OrgRole.OWNER),) + tuple(
        (draw(st.booleans() | st.just(True)), draw(st.sampled_from([OrgRole.MEMBER, OrgRole.ADMIN])))
        for _ in range(n)
    )
    everyone = st.integers(0, n)
    groups = tuple(draw(st.frozensets(everyone, max_size=n + 1)) for _ in range(draw(st.integers(1, 3))))
    mapped = draw(st.lists(st.integers(0, len(groups) - 1), unique=True, max_size=len(groups)))
    mappings = tuple((g, draw(mappings_of(stacks))) for g in sorted(mapped))
    grants = draw(
        st.frozensets(st.tuples(everyone, st.integers(0, stacks - 1), st.integers(0, len(ROLE_NAMES) - 1)), max_size=3)
    )
    return Facts(people, stacks, groups, mappings, grants)


# --- the org in the database, built the way requests build it -----------------


class World:
    """The database objects behind a Facts (a plain class: hypothesis prints dataclasses field by field)."""

    def __init__(self, org, people: list[Membership], stacks: list[Stack], groups: list, roles: list) -> None:
        self.org, self.people, self.stacks, self.groups, self.roles = org, people, stacks, groups, roles

    def __repr__(self) -> str:
        return f"World(org={self.org.pk})"

    def proposal(self, mapping: Mapping | None) -> Proposal:
        if mapping is None:
            return REMOVED
        return Proposal(
            mapping.org_role,
            frozenset((self.stacks[s].pk, self.roles[r].pk) for s, r in mapping.stack_roles),
            self.roles[mapping.all_stacks].pk if mapping.all_stacks is not None else None,
        )

    def save(self, group: int, mapping: Mapping | None, *, actor=None) -> None:
        """Apply a mapping (None: remove it) as the Settings page does."""
        if mapping is None:
            delete_mapping(GroupMapping.objects.get(group=self.groups[group]), actor=actor)
            return
        save_mapping(
            self.org,
            self.groups[group],
            org_role=mapping.org_role,
            stack_roles={self.stacks[s]: self.roles[r] for s, r in mapping.stack_roles},
            all_stacks_role=self.roles[mapping.all_stacks] if mapping.all_stacks is not None else None,
            actor=actor,
        )


def build(org, facts: Facts) -> World:
    """People with their roles by hand, stacks, grants by hand, groups (over
    SCIM), deactivations (by hand), then the mappings (as an admin saves them):
    every step through the service a real request calls."""
    roles = [builtin(name) for name in ROLE_NAMES]
    people = [builders.owner_of(org)] + [
        builders.make_provisioned(org, role=manual) for _active, manual in facts.people[1:]
    ]
    stacks = [builders.make_stack(org) for _ in range(facts.stacks)]
    for person, stack, role in sorted(facts.manual_grants):
        org_services.grant_stack_role(people[person], stacks[stack], roles[role], actor=None)
    groups = [
        provisioning.create_group(org, f"Group {i}", actor=None, member_ids=[people[p].pk for p in members])
        for i, members in enumerate(facts.groups)
    ]
    for person, (active, _manual) in zip(people, facts.people):
        if not active:
            org_services.set_member_active(person, False, actor=None)
    world = World(org, people, stacks, groups, roles)
    for group, mapping in facts.mappings:
        world.save(group, mapping)
    return world


# --- the oracle: the pure engine over the facts -------------------------------


@dataclass(frozen=True)
class Access:
    role: str
    derived: frozenset[tuple[int, int]]  # (stack pk, role pk) from groups: the SCIM rows
    by_hand: frozenset[tuple[int, int]]  # the manual rows

    @property
    def effective(self) -> frozenset[tuple[int, int]]:
        return self.derived | self.by_hand


def engine(world: World, facts: Facts) -> dict[int, Access]:
    """What mappings.engine.derive_access gives every membership, from the facts alone."""
    rules = {}
    for group, m in facts.mappings:
        group_id = world.groups[group].pk
        rules[group_id] = MappingRule(
            group_id=group_id,
            org_role=m.org_role,
            stack_roles=frozenset((world.stacks[s].pk, world.roles[r].pk) for s, r in m.stack_roles),
            all_stacks_role_id=world.roles[m.all_stacks].pk if m.all_stacks is not None else None,
        )
    stack_ids = frozenset(s.pk for s in world.stacks[: facts.stacks])
    out = {}
    for i, (active, manual) in enumerate(facts.people):
        derived = derive_access(
            active=active,
            current_role=manual,  # the Owner's role by hand is Owner; others' stored role is never Owner
            manual_role=manual,
            group_ids={world.groups[g].pk for g, members in enumerate(facts.groups) if i in members},
            rules=rules,
            stack_ids=stack_ids,
        )
        by_hand = frozenset((world.stacks[s].pk, world.roles[r].pk) for p, s, r in facts.manual_grants if p == i)
        out[world.people[i].pk] = Access(derived.org_role, derived.stack_roles, by_hand)
    return out


def stored(world: World) -> dict[int, Access]:
    """What the database holds for every membership of the org."""
    rows: dict[tuple[int, str], set] = {}
    for membership_id, source, stack_id, role_id in StackAccess.objects.filter(
        membership__organization=world.org
    ).values_list("membership_id", "source", "stack_id", "role_id"):
        rows.setdefault((membership_id, source), set()).add((stack_id, role_id))
    return {
        pk: Access(
            role,
            frozenset(rows.get((pk, AccessSource.SCIM), ())),
            frozenset(rows.get((pk, AccessSource.MANUAL), ())),
        )
        for pk, role in Membership.objects.filter(organization=world.org).values_list("pk", "role")
    }


def manual_roles(world: World) -> dict[int, str]:
    return dict(Membership.objects.filter(organization=world.org).values_list("pk", "manual_role"))


def assert_engine_holds(world: World, facts: Facts) -> None:
    expected, actual = engine(world, facts), stored(world)
    wrong = {pk: (actual.get(pk), want) for pk, want in expected.items() if actual.get(pk) != want}
    assert not wrong, f"stored != engine for memberships (stored, engine): {wrong}"
    hand = {world.people[i].pk: OrgRole.OWNER if i == OWNER else m for i, (_a, m) in enumerate(facts.people)}
    assert manual_roles(world) == hand, "a role granted by hand was changed"


@pytest.fixture
def rolled_back():
    """One savepoint per example, rolled back: every example starts from the same empty org."""

    class Savepoint:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc):
            transaction.set_rollback(True)
            return self.atomic.__exit__(*exc)

    return Savepoint


# --- (b) apply ----------------------------------------------------------------


@RULES
@given(facts=orgs())
def test_apply_stores_what_the_engine_derives(org, rolled_back, facts):
    with rolled_back():
        world = build(org, facts)
        assert_engine_holds(world, facts)


# --- (a) the preview, then (b) apply of what it previewed ---------------------


@st.composite
def edits(draw) -> tuple[Facts, int, Mapping | None]:
    """An org, one of its groups and the mapping proposed for it (None: remove it)."""
    facts = draw(orgs())
    group = draw(st.integers(0, len(facts.groups) - 1))
    options = [mappings_of(facts.stacks)]
    if facts.mapping_of(group) is not None:
        options.append(st.none())
    return facts, group, draw(st.one_of(*options))


# Two edges random draws seldom reach, each one that a preview mutation got past:
# a dropped pair the member also holds by hand (no loss), and a dropped pair
# another mapped group grants on all stacks (no loss either).
_ONE_MEMBER = ((True, OrgRole.OWNER), (True, OrgRole.MEMBER))
_DROP_HELD_BY_HAND = (
    Facts(_ONE_MEMBER, 1, (frozenset({1}),), ((0, Mapping(OrgRole.MEMBER, ((0, 0),), None)),), frozenset({(1, 0, 0)})),
    0,
    None,
)
_DROP_GRANTED_ON_ALL_STACKS = (
    Facts(
        _ONE_MEMBER, 2, (frozenset({1}), frozenset({1})),
        ((0, Mapping(OrgRole.MEMBER, ((0, 0), (1, 1)), None)), (1, Mapping(OrgRole.MEMBER, (), 0))),
        frozenset(),
    ),
    0,
    Mapping(OrgRole.MEMBER, ((1, 1),), None),
)


@RULES
@given(edit=edits())
@example(edit=_DROP_HELD_BY_HAND)
@example(edit=_DROP_GRANTED_ON_ALL_STACKS)
def test_preview_says_what_apply_then_changes(org, owner, rolled_back, edit):
    facts, group, mapping = edit
    with rolled_back():
        world = build(org, facts)
        after_facts = facts.with_mapping(group, mapping)
        before, after = engine(world, facts), engine(world, after_facts)
        labels = {m.pk: _label(m) for m in Membership.objects.filter(organization=org)}

        preview = preview_mapping(org, world.groups[group], world.proposal(mapping))

        def who(changed) -> set[str]:
            return {labels[pk] for pk in before if changed(before[pk], after[pk])}

        gained_admin = who(lambda b, a: b.role == OrgRole.MEMBER and a.role == OrgRole.ADMIN)
        lost_admin = who(lambda b, a: b.role == OrgRole.ADMIN and a.role == OrgRole.MEMBER)
        assert (preview.admins_gained, preview.admins_lost) == (len(gained_admin), len(lost_admin))
        assert set(preview.admin_gain_sample) <= gained_admin and set(preview.admin_loss_sample) <= lost_admin
        names = {(s.name, r.name): (s.pk, r.pk) for s in world.stacks for r in world.roles}
        for kind, changes, changed in (
            ("gains", preview.gains, lambda pair, b, a: pair in a.effective - b.effective),
            ("losses", preview.losses, lambda pair, b, a: pair in b.effective - a.effective),
        ):
            expected = {}
            for pair in names.values():
                people = who(lambda b, a: changed(pair, b, a))
                if people:
                    expected[pair] = people
            said = {names[(c.stack, c.role)]: c for c in changes}
            assert {p: c.count for p, c in said.items()} == {p: len(v) for p, v in expected.items()}, kind
            for pair, change in said.items():
                assert set(change.sample) <= expected[pair], kind
        active = sum(1 for i in facts.groups[group] if facts.people[i][0])  # the Owner's stack roles change too
        assert (preview.members, preview.inactive) == (active, len(facts.groups[group]) - active)

        world.save(group, mapping, actor=owner.user)
        assert_engine_holds(world, after_facts)


# --- (c) incremental recompute after a change ---------------------------------


@st.composite
def changes(draw) -> tuple[Facts, list[tuple]]:
    """An org and a few events, each sent through the path that makes it."""
    facts = draw(orgs())
    members = st.integers(1, len(facts.people) - 1)
    everyone = st.integers(0, len(facts.people) - 1)
    group = st.integers(0, len(facts.groups) - 1)
    event = st.one_of(
        st.tuples(st.just("members"), group, st.frozensets(everyone, max_size=3), st.frozensets(everyone, max_size=3)),
        st.tuples(st.just("replace"), group, st.frozensets(everyone, max_size=4)),
        st.tuples(st.just("active"), members, st.booleans()),
        st.tuples(st.just("role"), members, st.sampled_from([OrgRole.ADMIN, OrgRole.MEMBER])),
        st.tuples(st.just("stack")),
        st.tuples(st.just("delete_group"), group),
    )
    return facts, draw(st.lists(event, min_size=1, max_size=3))


def happen(world: World, facts: Facts, event: tuple) -> Facts:
    """Make the event happen through its real path; returns the facts after it."""
    kind = event[0]
    if kind in ("members", "replace"):
        group = event[1]
        if world.groups[group] is None:
            return facts
        ids = lambda people: [world.people[p].pk for p in people]  # noqa: E731
        if kind == "members":
            add, remove = event[2], event[3]
            provisioning.change_group_members(world.groups[group], add=ids(add), remove=ids(remove), actor=None)
            members = (facts.groups[group] - (remove - add)) | add
        else:
            provisioning.change_group_members(world.groups[group], replace=ids(event[2]), actor=None)
            members = event[2]
        groups = list(facts.groups)
        groups[group] = frozenset(members)
        return replace(facts, groups=tuple(groups))
    if kind == "active":
        person, active = event[1], event[2]
        provisioning.set_membership_active(world.people[person], active, actor=None)
        people = list(facts.people)
        people[person] = (active, people[person][1])
        return replace(facts, people=tuple(people))
    if kind == "role":
        person, role = event[1], event[2]
        org_services.change_role(world.people[person], role, actor=None)
        people = list(facts.people)
        people[person] = (people[person][0], role)
        return replace(facts, people=tuple(people))
    if kind == "stack":
        world.stacks.append(builders.make_stack(world.org))  # all-stacks mappings cover it
        return replace(facts, stacks=facts.stacks + 1)
    if kind == "delete_group":
        group = event[1]
        if world.groups[group] is None:
            return facts
        provisioning.delete_group(world.groups[group], actor=None)
        world.groups[group] = None
        groups = list(facts.groups)
        groups[group] = frozenset()
        return replace(facts, groups=tuple(groups)).with_mapping(group, None)
    raise AssertionError(kind)


@RULES
@given(change=changes())
def test_incremental_recompute_after_each_change_stores_what_the_engine_derives(org, rolled_back, change):
    facts, events = change
    with rolled_back():
        world = build(org, facts)
        # And a stack created last, every time: all-stacks mappings must cover it.
        for event in [*events, ("stack",)]:
            facts = happen(world, facts, event)
            assert_engine_holds(world, facts)


# --- (d) the consistency pass -------------------------------------------------


@st.composite
def corruptions(draw) -> tuple[Facts, list[tuple]]:
    """An org and changes made around the engine (a shell, a hand-edited row)."""
    facts = draw(orgs())
    everyone = st.integers(0, len(facts.people) - 1)
    stack = st.integers(0, facts.stacks - 1)
    role = st.integers(0, len(ROLE_NAMES) - 1)
    group = st.integers(0, len(facts.groups) - 1)
    op = st.one_of(
        st.tuples(st.just("drop_scim_row"), st.integers(0, 20)),
        st.tuples(st.just("add_scim_row"), everyone, stack, role),
        st.tuples(st.just("set_role"), st.integers(1, len(facts.people) - 1),
                  st.sampled_from([OrgRole.ADMIN, OrgRole.MEMBER])),
        st.tuples(st.just("unlink"), group, everyone),
        st.tuples(st.just("unmap"), group),
        # Wholesale: every member stale at once, so whoever the pass fails to pick is seen.
        st.tuples(st.just("flip_every_role")),
        st.tuples(st.just("drop_every_scim_row")),
    )
    return facts, draw(st.lists(op, min_size=1, max_size=3))


def corrupt(world: World, facts: Facts, op: tuple) -> Facts:
    """Change rows behind the engine's back (no signal, no recompute); returns the facts after it."""
    kind = op[0]
    if kind == "drop_scim_row":
        rows = list(
            StackAccess.objects.filter(membership__organization=world.org, source=AccessSource.SCIM)
            .order_by("pk").values_list("pk", flat=True)
        )
        if rows:
            StackAccess.objects.filter(pk=rows[op[1] % len(rows)]).delete()
    elif kind == "add_scim_row":
        _, person, stack, role = op
        StackAccess.objects.get_or_create(
            membership=world.people[person], stack=world.stacks[stack], role=world.roles[role],
            source=AccessSource.SCIM,
        )
    elif kind == "set_role":
        Membership.objects.filter(pk=world.people[op[1]].pk).update(role=op[2])
    elif kind == "flip_every_role":
        members = Membership.objects.filter(organization=world.org)
        admins = list(members.filter(role=OrgRole.ADMIN).values_list("pk", flat=True))
        members.filter(role=OrgRole.MEMBER).update(role=OrgRole.ADMIN)
        members.filter(pk__in=admins).update(role=OrgRole.MEMBER)
    elif kind == "drop_every_scim_row":
        StackAccess.objects.filter(membership__organization=world.org, source=AccessSource.SCIM).delete()
    elif kind == "unlink":
        _, group, person = op
        ScimGroupMember.objects.filter(group=world.groups[group], membership=world.people[person]).delete()
        groups = list(facts.groups)
        groups[group] = facts.groups[group] - {person}
        return replace(facts, groups=tuple(groups))
    elif kind == "unmap":
        GroupMapping.objects.filter(group=world.groups[op[1]]).delete()
        return facts.with_mapping(op[1], None)
    return facts


@RULES
@given(corruption=corruptions())
def test_consistency_pass_repairs_exactly_what_drifted(org, rolled_back, corruption):
    facts, ops = corruption
    with rolled_back():
        world = build(org, facts)
        # A state apply produced: nothing to repair.
        assert reconcile_organization(org.pk) == 0
        assert_engine_holds(world, facts)

        for op in ops:
            facts = corrupt(world, facts, op)
        expected, drifted = engine(world, facts), stored(world)
        stale = {pk for pk, want in expected.items() if drifted[pk] != want}
        assert reconcile_organization(org.pk) == len(stale)
        assert_engine_holds(world, facts)
