"""What a mapping change will do, before it is applied: how many members of the
group gain or lose which org role and which stack roles, with a few names.

Computed in SQL over the group's active members, compared with what they hold
now, in a handful of statements whatever the group's size: the org role by one
aggregate, stack roles by one grouped count for the gains and one for the
losses. The rules are the access engine's (mappings.engine, rules 1-6), the
filters mappings.access's: org role = the highest of the role granted by hand
and the mapped groups' roles (the Owner's never changes); stack roles = the
union over mapped groups, the Owner's too; deactivated members derive nothing;
grants made by hand stay. tests/mappings/test_access_rules_property.py proves
the counts equal to what derive_access gives before and after.

A fingerprint of the inputs (the group's membership version, the mapping as
stored, the org's other mappings, the proposal, the org's stacks) lets Confirm apply exactly what was
previewed: if it differs at Confirm, the preview is computed and shown again."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from organizations.models import Membership, Organization, OrgRole, Stack, StackAccess, StackRole
from organizations.paging import in_org
from scim.models import ScimGroupMember

from .access import admin_by_hand, admin_through_another_group, also_by_hand, derives, listed_in_groups, org_role_derived, unlooked
from .engine import BASE_ORG_ROLE, DERIVED_SOURCE, mapped_pairs
from .models import GroupMapping, GroupMappingStackRole

SAMPLE_SIZE = 5
SAMPLED_PAIRS = 6  # stack-role changes that get sample names (the rest get counts)
SAMPLE_WINDOW = 1000  # the group's first members a sample is looked for in (_Samples)


@dataclass(frozen=True)
class Proposal:
    """A mapping as the form proposes it; None everywhere = the mapping removed."""

    org_role: str | None
    stack_roles: frozenset[tuple[int, int]]  # (stack_id, role_id), explicit per-stack grants
    all_stacks_role_id: int | None

    @classmethod
    def of(cls, mapping: GroupMapping | None) -> "Proposal":
        if mapping is None:
            return REMOVED
        return cls(
            mapping.org_role,
            frozenset((sr.stack_id, sr.role_id) for sr in mapping.stack_roles.all()),
            mapping.all_stacks_role_id,
        )

    def pairs(self, stack_ids: list[int]) -> frozenset[tuple[int, int]]:
        return mapped_pairs(self.stack_roles, self.all_stacks_role_id, stack_ids)


REMOVED = Proposal(None, frozenset(), None)


@dataclass
class RoleChange:
    stack: str
    role: str
    count: int
    sample: list[str] = field(default_factory=list)


@dataclass
class Preview:
    group_name: str
    members: int  # active members of the group, the Owner included (the ones whose access can change)
    inactive: int  # deactivated members (they derive nothing)
    admins_gained: int
    admins_lost: int
    admin_gain_sample: list[str]
    admin_loss_sample: list[str]
    gains: list[RoleChange]
    losses: list[RoleChange]
    fingerprint: str
    removal: bool

    @property
    def changes_anything(self) -> bool:
        return bool(self.admins_gained or self.admins_lost or any(c.count for c in self.gains + self.losses))


def fingerprint(
    group, current: Proposal, proposal: Proposal, stack_ids: list[int], member_count: tuple[int, int],
    mappings_version: tuple[int, str],
) -> str:
    """Changes when anything the preview was computed from changes: a member
    joining or leaving the group (its updated_at and count), the stored mapping,
    any other group's mapping (what members keep through other groups), the
    org's stacks, or the proposal itself."""
    doc = {
        "mappings": list(mappings_version),
        "group": group.pk,
        "group_version": group.updated_at.isoformat() if group.updated_at else "",
        "members": list(member_count),  # (in the group, of them active and not the Owner)
        "current": _as_json(current),
        "proposal": _as_json(proposal),
        "stacks": stack_ids,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def _as_json(p: Proposal) -> list:
    return [p.org_role, sorted(map(list, p.stack_roles)), p.all_stacks_role_id]


def _mappings_version(org: Organization) -> tuple[int, str]:
    """(how many, latest change) of the org's group mappings: every save touches
    updated_at, a removal the count."""
    version = GroupMapping.objects.filter(organization=org).aggregate(n=Count("pk"), latest=Max("updated_at"))
    return version["n"], version["latest"].isoformat() if version["latest"] else ""


def _members_of(org: Organization, group) -> QuerySet:
    """The group's members, the org and the group compared as `(SELECT %s)`
    (paging.in_org): a group an identity provider just filled, in an org
    PostgreSQL has not analyzed yet, looks as if it held a row or two, and the
    join of the two was planned as a walk of the group's members for each
    member of the org. Planned for an average org and group, the join reads
    each once."""
    return Membership.objects.filter(in_org(org), group_memberships__group_id=unlooked(group.pk))


def _member_counts(in_group: QuerySet) -> dict[str, int]:
    """The group's active members (whose access can change: rule 6) and all its members, in one query."""
    return in_group.aggregate(active=Count("pk", filter=derives()), total=Count("pk"))


def _label(m: Membership) -> str:
    name = " ".join(x for x in (m.given_name, m.family_name) if x) or m.display_name
    return f"{name} <{m.scim_username}>" if name else m.scim_username


class _Samples:
    """A few of the group's affected members, for the preview's words, in userName
    order: looked for first among the group's first SAMPLE_WINDOW members (the
    start of its (group, membership) index), read by primary key. Looked for in
    the whole group, each sample read and sorted every affected member, 20,000
    for five names; ordered by id instead, PostgreSQL walked the membership
    table from its first id, through other orgs' members. Only when the window
    holds fewer than SAMPLE_SIZE of them is the whole group read and sorted, as
    before. Each sample is `narrow` (the change's condition) applied to the
    members whose access follows the mapping."""

    FIELDS = ("given_name", "family_name", "display_name", "scim_username")

    def __init__(self, org: Organization, group, deriving: QuerySet) -> None:
        first = ScimGroupMember.objects.filter(group_id=unlooked(group.pk)).order_by("membership_id")
        self.window = Membership.objects.filter(
            in_org(org), derives(), pk__in=first.values("membership_id")[:SAMPLE_WINDOW])
        self.whole = deriving

    def of(self, narrow: Callable[[QuerySet], QuerySet]) -> list[str]:
        found = list(narrow(self.window).order_by("scim_username").only(*self.FIELDS)[:SAMPLE_SIZE])
        if len(found) < SAMPLE_SIZE:
            found = list(narrow(self.whole).order_by("scim_username").only(*self.FIELDS)[:SAMPLE_SIZE])
        return [_label(m) for m in found]


def _pairs_q(pairs, prefix: str = "") -> Q:
    q = Q(pk__in=[])
    for stack_id, role_id in pairs:
        q |= Q(**{f"{prefix}stack_id": stack_id, f"{prefix}role_id": role_id})
    return q


def preview_mapping(org: Organization, group, proposal: Proposal) -> Preview:
    """The effect of giving `group` the mapping `proposal` (REMOVED: no mapping)."""
    mapping = GroupMapping.objects.filter(group=group).prefetch_related("stack_roles").first()
    current = Proposal.of(mapping)
    stack_ids = list(Stack.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
    in_group = _members_of(org, group)
    deriving = in_group.filter(derives())  # whose stack roles follow the mapping (rule 6)
    affected = deriving.filter(org_role_derived())  # whose org role does too (rule 5)
    counts = _member_counts(in_group)
    members = counts["active"]

    # Org role: Admin if granted by hand, by another mapped Admin group, or by this
    # one. The other Admin groups are few: listed first, so the per-member test
    # is a plain index probe (or nothing at all when there are none).
    other_admin_groups = list(
        GroupMapping.objects.filter(organization=org, org_role=OrgRole.ADMIN).exclude(group_id=group.pk)
        .values_list("group_id", flat=True)
    )
    other_admin = admin_through_another_group(group.pk, admin_group_ids=other_admin_groups)
    if proposal.org_role == OrgRole.ADMIN:
        def gain_admin(ms: QuerySet) -> QuerySet:
            return ms.filter(org_role_derived(), role=BASE_ORG_ROLE)

        def lose_admin(ms: QuerySet) -> QuerySet:
            return ms.none()

        admin_counts = {"gained": gain_admin(deriving).count(), "lost": 0}
    else:
        keeps_admin = admin_by_hand() | Q(_other_admin=True)

        def gain_admin(ms: QuerySet) -> QuerySet:
            return ms.filter(org_role_derived()).alias(_other_admin=other_admin).filter(keeps_admin, role=BASE_ORG_ROLE)

        def lose_admin(ms: QuerySet) -> QuerySet:
            return (ms.filter(org_role_derived()).alias(_other_admin=other_admin)
                    .filter(role=OrgRole.ADMIN).exclude(keeps_admin))

        admin_counts = affected.annotate(_other_admin=other_admin).aggregate(
            gained=Count("pk", filter=keeps_admin & Q(role=BASE_ORG_ROLE)),
            lost=Count("pk", filter=Q(role=OrgRole.ADMIN) & ~keeps_admin),
        )

    new_pairs = proposal.pairs(stack_ids)
    old_pairs = current.pairs(stack_ids)
    names = _names(stack_ids, new_pairs | old_pairs)

    # Gains: every active member gets each pair of the proposal; those holding it
    # already (from anywhere) gain nothing.
    holders = dict.fromkeys(new_pairs, 0)
    if new_pairs:
        for stack_id, role_id, n in (
            StackAccess.objects.filter(_pairs_q(new_pairs), membership__in=deriving)
            .order_by()  # no joins for StackAccess's default ordering
            .values("stack_id", "role_id").annotate(n=Count("membership_id", distinct=True))
            .values_list("stack_id", "role_id", "n")
        ):
            holders[(stack_id, role_id)] = n
    gains = [RoleChange(*names[p], members - holders[p]) for p in sorted(new_pairs, key=names.get)]

    # Losses: a SCIM-derived pair the proposal drops is lost unless another mapped
    # group of the member grants it, or it is also granted by hand.
    dropped = old_pairs - new_pairs
    losses: list[RoleChange] = []
    losing = StackAccess.objects.none()
    if dropped:
        # Which other mapped groups grant each dropped pair: a short list per pair,
        # hashed once for the statement (access.listed_in_groups).
        granting: dict[tuple[int, int], set[int]] = {pair: set() for pair in dropped}
        for group_id, stack_id, role_id in GroupMappingStackRole.objects.filter(
            mapping__organization=org
        ).exclude(mapping__group_id=group.pk).values_list("mapping__group_id", "stack_id", "role_id"):
            if (stack_id, role_id) in granting:
                granting[(stack_id, role_id)].add(group_id)
        for group_id, role_id in GroupMapping.objects.filter(
            organization=org, all_stacks_role__isnull=False
        ).exclude(group_id=group.pk).values_list("group_id", "all_stacks_role_id"):
            for pair in mapped_pairs((), role_id, stack_ids) & dropped:
                granting[pair].add(group_id)
        not_granted_elsewhere = Q(pk__in=[])
        for (stack_id, role_id), groups in granting.items():
            pair = Q(stack_id=stack_id, role_id=role_id) & ~also_by_hand(stack_id, role_id)
            if groups:
                pair &= ~listed_in_groups(groups, membership_field="membership_id")
            not_granted_elsewhere |= pair
        losing = StackAccess.objects.filter(
            not_granted_elsewhere, derives("membership__"), source=DERIVED_SOURCE,
            membership__group_memberships__group_id=unlooked(group.pk),
        )
        lost = dict(
            ((s, r), n) for s, r, n in losing.order_by().values("stack_id", "role_id").annotate(n=Count("membership_id"))
            .values_list("stack_id", "role_id", "n")
        )
        losses = [RoleChange(*names[p], lost.get(p, 0)) for p in sorted(dropped, key=names.get)]

    # A few names for the largest changes.
    samples = _Samples(org, group, deriving)
    for change, pair in _with_pairs(gains, new_pairs, names)[:SAMPLED_PAIRS]:
        if change.count:
            lacking = ~Exists(StackAccess.objects.filter(membership_id=OuterRef("pk"), stack_id=pair[0], role_id=pair[1]))
            change.sample = samples.of(lambda ms, lacking=lacking: ms.filter(lacking))
    for change, pair in _with_pairs(losses, dropped, names)[:SAMPLED_PAIRS]:
        if change.count:
            change.sample = samples.of(lambda ms, pair=pair: _losing_members(ms, pair, granting[pair]))

    return Preview(
        group_name=group.display_name,
        members=members,
        inactive=counts["total"] - members,
        admins_gained=admin_counts["gained"],
        admins_lost=admin_counts["lost"],
        admin_gain_sample=samples.of(gain_admin) if admin_counts["gained"] else [],
        admin_loss_sample=samples.of(lose_admin) if admin_counts["lost"] else [],
        gains=[g for g in gains if g.count],
        losses=[loss for loss in losses if loss.count],
        fingerprint=fingerprint(group, current, proposal, stack_ids, (counts["total"], members),
                                _mappings_version(org)),
        removal=proposal is REMOVED,
    )


def _losing_members(members: QuerySet, pair: tuple[int, int], granting_groups: set[int]) -> QuerySet:
    """Those of `members` who lose the derived `pair` (the losses' count, per member)."""
    stack_id, role_id = pair
    losing = members.filter(Exists(StackAccess.objects.filter(
        membership_id=OuterRef("pk"), stack_id=stack_id, role_id=role_id, source=DERIVED_SOURCE,
    ))).exclude(also_by_hand(stack_id, role_id, membership_field="pk"))
    return losing.exclude(listed_in_groups(granting_groups)) if granting_groups else losing


def _names(stack_ids: list[int], pairs) -> dict[tuple[int, int], tuple[str, str]]:
    stacks = dict(Stack.objects.filter(pk__in={s for s, _ in pairs}).values_list("pk", "name"))
    roles = dict(StackRole.objects.filter(pk__in={r for _, r in pairs}).values_list("pk", "name"))
    return {(s, r): (stacks.get(s, "?"), roles.get(r, "?")) for s, r in pairs}


def _with_pairs(changes: list[RoleChange], pairs, names) -> list[tuple[RoleChange, tuple[int, int]]]:
    by_name = {names[p]: p for p in pairs}
    return [(c, by_name[(c.stack, c.role)]) for c in changes if (c.stack, c.role) in by_name]


def current_fingerprint(org: Organization, group, proposal: Proposal) -> str:
    """The fingerprint preview_mapping would compute now, in a few cheap statements."""
    mapping = GroupMapping.objects.filter(group=group).prefetch_related("stack_roles").first()
    stack_ids = list(Stack.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
    counts = _member_counts(_members_of(org, group))
    return fingerprint(group, Proposal.of(mapping), proposal, stack_ids, (counts["total"], counts["active"]),
                       _mappings_version(org))
