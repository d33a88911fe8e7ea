"""Identity providers race: Okta and Entra send PATCHes in parallel, retry POSTs,
deactivate a user while a group push is in flight. Real threads, each with its
own PostgreSQL connection, drive the WSGI app (Django's test client) at the same
moment (a barrier releases them together); afterwards the database must hold
exactly what a serial run would have produced: no lost update, no duplicate,
no access left behind."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from mappings.services import recompute_memberships
from organizations.models import AccessSource, Membership, OrgRole, StackAccess, User
from scim.models import ScimGroup, ScimGroupMember
from tests import builders
from tests.builders import builtin, bulk_members, map_group
from tests.scim.api.helpers import ScimClient, new_user, patch_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 10  # concurrent IdP connections per race
RACED = {"clients": 0, "requests": 0}


def race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job in its own thread, released together; results (or the
    exception raised) in job order. Each thread closes its DB connection."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing client hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    RACED["clients"] += len(jobs)
    return results


@pytest.fixture
def env():
    org = builders.make_org("Race")
    installation, token = builders.enable_scim(org)
    stack = builders.make_stack(org, "Prod")
    return org, token, stack


def client_for(org, token) -> ScimClient:
    return ScimClient(org, token, Client())


def scim_access(membership_ids) -> dict[int, set[tuple[int, int]]]:
    rows = StackAccess.objects.filter(membership_id__in=membership_ids, source=AccessSource.SCIM)
    out: dict[int, set] = {}
    for mid, sid, rid in rows.values_list("membership_id", "stack_id", "role_id"):
        out.setdefault(mid, set()).add((sid, rid))
    return out


def test_parallel_patches_to_one_group_lose_no_update(env):
    org, token, stack = env
    keep = bulk_members(org, CLIENTS * 2, prefix="keep")
    leave = bulk_members(org, CLIENTS * 2, prefix="leave")
    join = bulk_members(org, CLIENTS * 3, prefix="join")
    group = ScimGroup.objects.create(organization=org, display_name="Engineering")
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in keep + leave)
    map_group(org, group, stacks={stack: "Developer"})

    def client_job(n: int) -> list[int]:
        c = client_for(org, token)
        mine_in = join[n * 3:(n + 1) * 3]
        mine_out = leave[n * 2:(n + 1) * 2]
        statuses = []
        # Okta style: one member per PATCH; Entra style: a list, add and remove together.
        for m in mine_in[:2]:
            statuses.append(c.patch(f"/Groups/{group.pk}", patch_body({"op": "add", "path": "members", "value": [{"value": str(m.pk)}]})).status_code)
        statuses.append(c.patch(f"/Groups/{group.pk}", patch_body(
            {"op": "Add", "path": "members", "value": [{"value": str(mine_in[2].pk)}]},
            {"op": "Remove", "path": "members", "value": [{"value": str(mine_out[0].pk)}]},
        )).status_code)
        statuses.append(c.patch(f"/Groups/{group.pk}", patch_body({"op": "remove", "path": f'members[value eq "{mine_out[1].pk}"]'})).status_code)
        return statuses

    results = race([lambda n=n: client_job(n) for n in range(CLIENTS)])
    RACED["requests"] += sum(len(r) for r in results)
    assert all(s == 204 for r in results for s in r), results
    members = set(ScimGroupMember.objects.filter(group=group).values_list("membership_id", flat=True))
    assert members == {m.pk for m in keep + join}
    # access follows membership exactly: the group grants Developer on Prod
    dev = (stack.pk, builtin("Developer").pk)
    access = scim_access([m.pk for m in keep + leave + join])
    assert {mid for mid, grants in access.items() if dev in grants} == {m.pk for m in keep + join}


def test_parallel_posts_of_one_user_name_create_exactly_one_member(env):
    org, token, _ = env
    body = new_user("Dup.User@race.example", externalId="okta-123")

    def post() -> int:
        return client_for(org, token).post("/Users", body).status_code

    statuses = race([post for _ in range(CLIENTS + 2)])
    RACED["requests"] += len(statuses)
    assert sorted(statuses) == [201] + [409] * (CLIENTS + 1), statuses
    assert Membership.objects.filter(organization=org, scim_username__iexact="dup.user@race.example").count() == 1
    assert User.objects.filter(email__iexact="dup.user@race.example").count() == 1


def test_parallel_posts_of_one_person_under_different_user_names_make_one_member(env):
    """Entra sends the UPN as userName, a second connector the e-mail: one account,
    one membership, the other requests 409."""
    org, token, _ = env

    def post(n: int) -> int:
        body = new_user(f"alias{n}", emails=[{"value": "One.Person@race.example", "primary": True, "type": "work"}])
        return client_for(org, token).post("/Users", body).status_code

    statuses = race([lambda n=n: post(n) for n in range(CLIENTS)])
    RACED["requests"] += len(statuses)
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1), statuses
    assert User.objects.filter(email__iexact="one.person@race.example").count() == 1
    assert Membership.objects.filter(organization=org, user__email__iexact="one.person@race.example").count() == 1


def test_parallel_posts_of_one_group_name_create_exactly_one_group(env):
    org, token, _ = env

    def post() -> int:
        return client_for(org, token).post("/Groups", {"displayName": "Sales"}).status_code

    statuses = race([post for _ in range(CLIENTS)])
    RACED["requests"] += len(statuses)
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1), statuses
    assert ScimGroup.objects.filter(organization=org, display_name="Sales").count() == 1


@pytest.mark.parametrize("round_", range(3))
def test_deactivation_racing_group_changes_ends_with_no_access(env, round_):
    org, token, stack = env
    admins = ScimGroup.objects.create(organization=org, display_name="Admins")
    devs = ScimGroup.objects.create(organization=org, display_name="Devs")
    map_group(org, admins, org_role=OrgRole.ADMIN, stacks={stack: "Admin"})
    map_group(org, devs, stacks={stack: "Developer"})
    victim = bulk_members(org, 1, prefix=f"victim{round_}-")[0]
    others = bulk_members(org, 4, prefix=f"other{round_}-")
    ScimGroupMember.objects.create(group=devs, membership=victim)
    recompute_memberships([victim.pk], actor=None)

    def deactivate() -> int:
        return client_for(org, token).patch(
            f"/Users/{victim.pk}", patch_body({"op": "replace", "value": {"active": "False"}})  # Entra's string
        ).status_code

    def add_to_admins() -> int:
        values = [{"value": str(m.pk)} for m in [victim, *others]]
        return client_for(org, token).patch(
            f"/Groups/{admins.pk}", patch_body({"op": "add", "path": "members", "value": values})
        ).status_code

    def replace_devs() -> int:
        return client_for(org, token).put(
            f"/Groups/{devs.pk}", {"displayName": "Devs", "members": [{"value": str(victim.pk)}]}
        ).status_code

    jobs = [deactivate, add_to_admins, replace_devs, add_to_admins, deactivate]
    statuses = race(jobs)
    RACED["requests"] += len(statuses)
    assert statuses == [200, 204, 200, 204, 200], statuses
    victim.refresh_from_db()
    assert victim.active is False
    assert victim.role == OrgRole.MEMBER
    assert not StackAccess.objects.filter(membership=victim).exists()
    # the others did get what the Admins group grants
    assert {m.role for m in Membership.objects.filter(pk__in=[m.pk for m in others])} == {OrgRole.ADMIN}


def test_two_recomputes_of_one_org_at_once_end_consistent(env):
    org, token, stack = env
    members = bulk_members(org, 300, prefix="bulk")
    group = ScimGroup.objects.create(organization=org, display_name="All")
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members)
    map_group(org, group, stacks={stack: "Developer"})
    ids = [m.pk for m in members]

    def remap_to_admin() -> None:
        map_group(org, ScimGroup.objects.get(pk=group.pk), org_role=OrgRole.ADMIN, stacks={stack: "Admin"})

    def recompute_forward() -> int:
        return recompute_memberships(ids, actor=None)

    def recompute_reversed() -> int:
        return recompute_memberships(list(reversed(ids)), actor=None)

    race([remap_to_admin, recompute_forward, recompute_reversed, recompute_forward])
    # whatever the interleaving, a fresh recompute finds nothing left to change
    assert recompute_memberships(ids, actor=None) == 0
    assert set(Membership.objects.filter(pk__in=ids).values_list("role", flat=True)) == {OrgRole.ADMIN}
    admin = (stack.pk, builtin("Admin").pk)
    access = scim_access(ids)
    assert all(access.get(i) == {admin} for i in ids)
    assert StackAccess.objects.filter(membership_id__in=ids, source=AccessSource.SCIM).count() == len(ids)


def test_parallel_patches_of_two_mapped_groups_sharing_people_both_apply(env):
    """Two mapped groups pushed in parallel with the same people (Okta pushes
    every group of a user at once): each request locks its own group, then the
    same memberships for the access recompute. Those are locked in id order and
    read after the lock, so the requests serialise there (no deadlock) and the
    later one derives from the earlier one's committed links: both apply, and
    every member ends with what both groups grant."""
    org, token, stack = env
    people = bulk_members(org, 40, prefix="shared")
    admins = ScimGroup.objects.create(organization=org, display_name="Admins")
    devs = ScimGroup.objects.create(organization=org, display_name="Devs")
    map_group(org, admins, org_role=OrgRole.ADMIN)
    map_group(org, devs, stacks={stack: "Developer"})
    values = [{"value": str(m.pk)} for m in people]

    def add_to(group) -> Callable[[], int]:
        def job() -> int:
            body = patch_body({"op": "add", "path": "members", "value": values})
            return client_for(org, token).patch(f"/Groups/{group.pk}", body).status_code
        return job

    jobs = [add_to(admins), add_to(devs), add_to(admins), add_to(devs)]
    statuses = race(jobs)
    RACED["requests"] += len(statuses)
    assert statuses == [204] * len(jobs), statuses
    ids = [m.pk for m in people]
    assert set(Membership.objects.filter(pk__in=ids).values_list("role", flat=True)) == {OrgRole.ADMIN}
    dev = (stack.pk, builtin("Developer").pk)
    assert scim_access(ids) == {i: {dev} for i in ids}
    assert recompute_memberships(ids, actor=None) == 0
