"""Hot paths run a fixed number of queries whatever the org and page size."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership, MembershipEmail, OrgRole
from scim.models import ScimGroup, ScimGroupMember
from scim.redis_client import redis_client

pytestmark = pytest.mark.django_db



def token_queries() -> int:
    """The token lookup: none once the token is remembered, which needs Redis
    (scim.tokens); the tests warm it up with a first request."""
    return 0 if redis_client() is not None else 1


def user_doc_queries() -> int:
    """A page of User documents: one statement on PostgreSQL (e-mails and groups
    come along as JSON); memberships, e-mails and groups elsewhere."""
    return 1 if connection.vendor == "postgresql" else 3


ACTIVITY = 1  # the ProvisioningEvent INSERT


def bulk_members(org, n):
    from organizations.models import User

    start = User.objects.count()
    users = User.objects.bulk_create(User(email=f"bulk{start + i}@x.com") for i in range(n))
    members = Membership.objects.bulk_create(
        Membership(organization=org, user=u, role=OrgRole.MEMBER, scim_username=u.email) for u in users
    )
    MembershipEmail.objects.bulk_create(
        MembershipEmail(membership=m, value=m.scim_username, type="work", primary=True) for m in members
    )
    return members


def queries_for(callable_) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = callable_()
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_users_page_query_count_does_not_grow_with_page_or_org(scim, org):
    members = bulk_members(org, 120)
    group = ScimGroup.objects.create(organization=org, display_name="All")
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members)
    scim.get("/Users", {"count": 1})  # warm up (last_used_at write of the token)
    scim.get("/Users", {"count": 1})  # (the token is remembered from here on, with Redis)
    small = queries_for(lambda: scim.get("/Users", {"startIndex": 1, "count": 2}))
    big = queries_for(lambda: scim.get("/Users", {"startIndex": 1, "count": 100}))
    # the unfiltered total is cached, so no COUNT
    assert small == big == token_queries() + user_doc_queries() + ACTIVITY
    bulk_members(org, 150)  # a bigger org does not change it either
    assert queries_for(lambda: scim.get("/Users", {"startIndex": 50, "count": 100})) == big


def test_unfiltered_total_is_cached_and_dropped_when_users_come_and_go(scim, org):
    bulk_members(org, 5)  # + the owner = 6
    assert scim.get("/Users", {"count": 2}).json()["totalResults"] == 6
    with CaptureQueriesContext(connection) as ctx:
        assert scim.get("/Users", {"count": 2}).json()["totalResults"] == 6
    assert not any("COUNT(" in q["sql"] for q in ctx.captured_queries)
    created = scim.post("/Users", {"userName": "new@x.com"})
    assert created.status_code == 201
    assert scim.get("/Users", {"count": 2}).json()["totalResults"] == 7
    assert scim.delete(f"/Users/{created.json()['id']}").status_code == 204
    assert scim.get("/Users", {"count": 2}).json()["totalResults"] == 6
    # filtered lists always count
    assert scim.get("/Users", {"count": 1, "filter": 'userName sw "bulk"'}).json()["totalResults"] == 5


def test_group_total_follows_group_creation_and_deletion(scim, org):
    ids = [scim.post("/Groups", {"displayName": f"G{i}"}).json()["id"] for i in range(3)]
    assert scim.get("/Groups", {"count": 1}).json()["totalResults"] == 3
    assert scim.delete(f"/Groups/{ids[0]}").status_code == 204
    assert scim.get("/Groups", {"count": 1}).json()["totalResults"] == 2


def test_total_cache_can_be_turned_off(scim, org, settings):
    settings.SCIM_TOTAL_CACHE_SECONDS = 0
    bulk_members(org, 3)
    scim.get("/Users", {"count": 1})
    bulk_members(org, 2)  # bulk inserts send no signal; with the cache off it does not matter
    assert scim.get("/Users", {"count": 1}).json()["totalResults"] == 6


def test_username_lookup_query_count(scim, org, django_assert_num_queries):
    bulk_members(org, 30)
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    with CaptureQueriesContext(connection) as ctx:
        response = scim.get("/Users", {"filter": 'userName eq "bulk7@x.com"', "startIndex": 1, "count": 100})
    assert response.json()["totalResults"] == 1
    # a page that is not full needs no COUNT(*)
    assert len(ctx.captured_queries) == token_queries() + user_doc_queries() + ACTIVITY
    assert not any("COUNT(" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize(
    "start, count, expected_total, expected_items",
    [(1, 100, 31, 31), (1, 10, 31, 10), (21, 10, 31, 10), (31, 10, 31, 1), (40, 10, 31, 0), (1, 0, 31, 0)],
)
def test_totals_are_right_whether_or_not_the_count_query_is_skipped(scim, org, start, count, expected_total, expected_items):
    bulk_members(org, 30)  # + the owner = 31 users
    body = scim.get("/Users", {"startIndex": start, "count": count}).json()
    assert (body["totalResults"], len(body["Resources"])) == (expected_total, expected_items)


def test_groups_page_query_count_is_constant(scim, org):
    members = bulk_members(org, 50)
    for i in range(30):
        group = ScimGroup.objects.create(organization=org, display_name=f"G{i}")
        ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members[: i + 1])
    scim.get("/Groups", {"count": 1})
    scim.get("/Groups", {"count": 1})
    small = queries_for(lambda: scim.get("/Groups", {"count": 2}))
    big = queries_for(lambda: scim.get("/Groups", {"count": 30}))
    # page + members prefetch; no COUNT (the unfiltered total is cached)
    assert small == big == token_queries() + 2 + ACTIVITY
    excluded = queries_for(lambda: scim.get("/Groups", {"count": 30, "excludedAttributes": "members"}))
    assert excluded == token_queries() + 1 + ACTIVITY


def test_group_get_with_excluded_members_runs_no_member_query(scim, org):
    members = bulk_members(org, 40)
    group = ScimGroup.objects.create(organization=org, display_name="Big")
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members)
    scim.get("/Groups", {"count": 1})
    scim.get("/Groups", {"count": 1})
    with CaptureQueriesContext(connection) as ctx:
        response = scim.get(f"/Groups/{group.pk}", {"excludedAttributes": "members"})
    assert response.status_code == 200 and "members" not in response.json()
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any("scim_scimgroupmember" in s for s in sql), sql
    assert len(sql) == token_queries() + 1 + ACTIVITY
