"""The access engine's pure rules, table by table (no database)."""
from __future__ import annotations

import pytest

from mappings.engine import DerivedAccess, MappingRule, derive_access, explain_access

ADMIN, MEMBER, OWNER = "admin", "member", "owner"
ENG, OPS, SALES = 1, 2, 3  # group ids
WEB, API, NEW = 10, 20, 30  # stack ids
R_ADMIN, R_DEV, R_CM = 100, 200, 300  # stack role ids

RULES = {
    ENG: MappingRule(ENG, MEMBER, frozenset({(WEB, R_DEV)})),
    OPS: MappingRule(OPS, ADMIN, frozenset({(API, R_ADMIN)})),
    SALES: MappingRule(SALES, MEMBER, frozenset(), all_stacks_role_id=R_CM),
}
STACKS = frozenset({WEB, API})


def derive(*, active=True, role=MEMBER, manual=MEMBER, groups=(), rules=RULES, stacks=STACKS) -> DerivedAccess:
    return derive_access(
        active=active, current_role=role, manual_role=manual, group_ids=set(groups), rules=rules, stack_ids=stacks
    )


CASES = [
    # (name, kwargs, expected org role, expected stack roles)
    ("no groups gives Member and nothing", {}, MEMBER, set()),
    ("one member group grants its stack role", {"groups": [ENG]}, MEMBER, {(WEB, R_DEV)}),
    (
        "several groups give the highest org role and the union of stack roles",
        {"groups": [ENG, OPS]},
        ADMIN,
        {(WEB, R_DEV), (API, R_ADMIN)},
    ),
    ("leaving the admin group drops to Member and keeps the rest", {"groups": [ENG], "role": ADMIN}, MEMBER, {(WEB, R_DEV)}),
    ("a group without a mapping grants nothing", {"groups": [99]}, MEMBER, set()),
    (
        "a removed mapping grants nothing while the group stays",
        {"groups": [ENG, OPS], "rules": {ENG: RULES[ENG]}},
        MEMBER,
        {(WEB, R_DEV)},
    ),
    ("a deleted group (no longer among the member's groups) grants nothing", {"groups": [], "role": ADMIN}, MEMBER, set()),
    ("deactivation removes every derived grant", {"groups": [ENG, OPS], "active": False, "role": ADMIN}, MEMBER, set()),
    (
        "reactivation restores access from current groups",
        {"groups": [ENG, OPS], "active": True, "role": MEMBER},
        ADMIN,
        {(WEB, R_DEV), (API, R_ADMIN)},
    ),
    ("a manual Admin is kept without groups", {"manual": ADMIN}, ADMIN, set()),
    ("a manual Admin is not lowered by a Member group", {"manual": ADMIN, "groups": [ENG]}, ADMIN, {(WEB, R_DEV)}),
    ("a deactivated manual Admin has no effective access", {"manual": ADMIN, "active": False}, MEMBER, set()),
    ("the Owner stays Owner and still gets stack roles", {"role": OWNER, "manual": OWNER, "groups": [OPS]}, OWNER, {(API, R_ADMIN)}),
    ("the Owner is never lowered even without groups", {"role": OWNER, "manual": OWNER}, OWNER, set()),
    ("an all-stacks mapping covers every stack", {"groups": [SALES]}, MEMBER, {(WEB, R_CM), (API, R_CM)}),
    (
        "an all-stacks mapping covers a stack created later",
        {"groups": [SALES], "stacks": STACKS | {NEW}},
        MEMBER,
        {(WEB, R_CM), (API, R_CM), (NEW, R_CM)},
    ),
    (
        "all-stacks and per-stack grants add up",
        {"groups": [SALES, ENG]},
        MEMBER,
        {(WEB, R_CM), (API, R_CM), (WEB, R_DEV)},
    ),
]


@pytest.mark.parametrize(("kwargs", "org_role", "stack_roles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_derive_access(kwargs, org_role, stack_roles):
    derived = derive(**kwargs)
    assert derived.org_role == org_role
    assert derived.stack_roles == frozenset(stack_roles)


def test_group_order_does_not_matter():
    assert derive(groups=[OPS, ENG, SALES]) == derive(groups=[SALES, ENG, OPS])


def test_explanation_names_every_group_behind_each_grant():
    rules = {**RULES, 4: MappingRule(4, ADMIN, frozenset({(WEB, R_DEV)}))}
    why = explain_access(group_ids={ENG, OPS, 4}, rules=rules, stack_ids=STACKS)
    assert why.org_role_groups == {MEMBER: frozenset({ENG}), ADMIN: frozenset({OPS, 4})}
    assert why.stack_role_groups == {(WEB, R_DEV): frozenset({ENG, 4}), (API, R_ADMIN): frozenset({OPS})}


def test_explanation_covers_all_stacks_mappings():
    why = explain_access(group_ids={SALES, 99}, rules=RULES, stack_ids={WEB})
    assert why.stack_role_groups == {(WEB, R_CM): frozenset({SALES})}
