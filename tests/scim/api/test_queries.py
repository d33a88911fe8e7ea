"""Hot paths run a fixed number of queries whatever the org and page size."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership, OrgRole
from scim.models import ScimGroup, ScimGroupMember
from scim.redis_client import redis_client
from tests.builders import bulk_members

pytestmark = pytest.mark.django_db



def token_queries() -> int:
    """The token lookup: none once the token is remembered, which needs Redis
    (scim.tokens); the tests warm it up with a first request."""
    return 0 if redis_client() is not None else 1


def user_doc_queries() -> int:
    """A page of User documents: one statement on PostgreSQL (e-mails and groups
    come along as JSON); memberships, e-mails and groups elsewhere."""
    return 1 if connection.vendor == "postgresql" else 3


ACTIVITY = 1  # the ProvisioningEvent INSERT (of a call that wrote nothing)


def change(*riders: str) -> int:
    """A User write's change: on PostgreSQL one statement, the membership's
    UPDATE or INSERT with what goes with it (e-mails, audit entries, the
    activity entry: scim.rawsql.write_with); elsewhere one statement each."""
    return 1 if connection.vendor == "postgresql" else 1 + len(riders)


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
    bulk_members(org, 5, prefix="bulk")  # + the owner = 6
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
    wanted = bulk_members(org, 30)[7]
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    with CaptureQueriesContext(connection) as ctx:
        response = scim.get("/Users", {"filter": f'userName eq "{wanted.scim_username}"', "startIndex": 1, "count": 100})
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


# --- writes: a fixed number of statements, whatever the profile or the org -------

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")


def data_statements(callable_, status: int) -> list[str]:
    """The statements a call runs, without transaction control (which differs
    between a test, run inside a transaction, and production)."""
    with CaptureQueriesContext(connection) as ctx:
        response = callable_()
    assert response.status_code == status, response.content
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]


def user_body(user_name: str, emails: int = 1, **extra) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": f"{i}.{user_name}", "type": "work", "primary": i == 0} for i in range(emails)],
        "active": True,
        **extra,
    }


def test_post_user_statements_are_fixed(scim, org):
    bulk_members(org, 20)
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    one = data_statements(lambda: scim.post("/Users", user_body("one@x.com")), 201)
    three = data_statements(lambda: scim.post("/Users", user_body("three@x.com", emails=3)), 201)
    # account INSERT ... ON CONFLICT, membership INSERT ... ON CONFLICT (the
    # invitation the org owes is a column of it: the worker builds it) with its
    # e-mails (one INSERT), audit entry and activity entry; the response is
    # rendered from what was written, not read back
    assert len(one) == len(three) == token_queries() + 1 + change("e-mails", "audit", "activity"), one
    # a conflict: the account INSERT is a no-op (the same person), so the account
    # is read; this org created it, so whether it is still the org's own is asked
    # (another org's membership?); the membership INSERT is a no-op (the unique
    # constraint), and only then is it asked which one
    conflict = data_statements(lambda: scim.post("/Users", user_body("ONE@x.com")), 409)
    assert len(conflict) == token_queries() + 5 + ACTIVITY, conflict


def test_put_user_statements_are_fixed(scim, org):
    members = bulk_members(org, 20)
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    target = members[3]
    # (givenName inside `name`: a top-level "givenName" names no attribute and is
    # refused, 400 invalidValue; it used to be dropped silently.) The counts are
    # unchanged by ETags: the version comes from updated_at, already read.
    renamed_body = user_body(target.scim_username, name={"givenName": "B", "familyName": "Lovelace"})
    renamed = data_statements(lambda: scim.put(f"/Users/{target.pk}", renamed_body), 200)
    # row locked with its e-mails and groups (as many statements as a document
    # read), UPDATE of the changed columns with the e-mails replaced (DELETE +
    # INSERT, they changed), audit entry, activity entry; the response is
    # rendered from the object written
    assert len(renamed) == token_queries() + user_doc_queries() + change("delete", "insert", "audit", "activity"), renamed
    same = data_statements(lambda: scim.put(f"/Users/{target.pk}", renamed_body), 200)
    # nothing changed: the locked read, activity
    assert len(same) == token_queries() + user_doc_queries() + ACTIVITY, same
    assert not any(s.startswith(("UPDATE", "WITH w AS", "INSERT INTO \"organizations_auditevent\"")) for s in same)


def test_patch_deactivate_statements_do_not_grow_with_groups(scim, org):
    members = bulk_members(org, 30)
    for i in range(5):
        group = ScimGroup.objects.create(organization=org, display_name=f"G{i}")
        ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members[: 10 * (i + 1)])
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": False}}]}
    in_three_groups = data_statements(lambda: scim.patch(f"/Users/{members[25].pk}", body), 200)
    in_five_groups = data_statements(lambda: scim.patch(f"/Users/{members[0].pk}", body), 200)
    assert len(in_three_groups) == len(in_five_groups), (in_three_groups, in_five_groups)
    # row locked with its e-mails and groups, UPDATE with its audit entry and
    # the activity entry, its open invitations (none to revoke); deactivation
    # derives nothing, so no mapping or group is read: its derived grants (none to drop)
    assert len(in_five_groups) == token_queries() + user_doc_queries() + change("audit", "activity") + 2, in_five_groups
    # only `active` (and updated_at)
    assert sum(s.startswith(("UPDATE", "WITH w AS (UPDATE")) for s in in_five_groups) == 1


@pytest.mark.postgres
def test_a_late_page_reads_e_mails_and_groups_of_its_own_rows_only(org):
    """On PostgreSQL a page's e-mails and groups are subqueries of its one
    statement; they must run for the page's rows, not for every row OFFSET skips
    (which made late import pages of a large org take seconds)."""
    import json

    from scim.api import user_rows

    from scim.rawsql import _prepared

    bulk_members(org, 300)
    user_rows.page(org.pk, limit=20, offset=250)  # prepared on this connection, as a request prepares it
    execute = _prepared(user_rows._member_sql(connection.vendor, "page", False, True), user_rows._TYPES["page"])[2]
    with connection.cursor() as cursor:  # the generic plan, which the statement runs with (scim.rawsql.GENERIC_PLANS)
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + execute, [org.pk, 20, 250])
        plan = cursor.fetchone()[0]
        cursor.execute("RESET plan_cache_mode")
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def subplans(node):  # per row, as opposed to the page's ids (an InitPlan, run once)
        if node.get("Parent Relationship") == "SubPlan":
            yield node
        for child in node.get("Plans", []):
            yield from subplans(child)

    found = list(subplans(plan[0]["Plan"]))
    assert len(found) == 3  # e-mails, groups, and each group's name (within groups)
    assert all(node["Actual Loops"] <= 20 for node in found), [node["Actual Loops"] for node in found]
    rows = user_rows.page(org.pk, limit=20, offset=250)
    assert len(rows) == 20 and rows == sorted(rows, key=lambda r: r["id"])


def test_group_patch_statements_do_not_grow_with_the_members_added_and_removed(scim, org):
    """Okta pushes big groups as PATCHes of ±100 members: bulk DELETE and INSERT of
    the links and one access recompute for the whole batch, however many members."""
    from mappings.models import GroupMapping
    from mappings.services import recompute_memberships

    members = bulk_members(org, 240)
    group = ScimGroup.objects.create(organization=org, display_name="Eng")
    GroupMapping.objects.create(organization=org, group=group, org_role=OrgRole.ADMIN)  # every change recomputes a role
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, membership=m) for m in members[:120])
    recompute_memberships([m.pk for m in members[:120]], actor=None)
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})

    def swap(out, into):
        ops = [{"op": "remove", "path": f'members[value eq "{m.pk}"]'} for m in out]
        ops.append({"op": "add", "path": "members", "value": [{"value": str(m.pk), "display": "x"} for m in into]})
        ops.append({"op": "replace", "value": {"id": str(group.pk), "displayName": "Eng"}})  # Okta resends the name
        return data_statements(lambda: scim.patch(f"/Groups/{group.pk}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}), 204)

    small = swap(members[:10], members[120:130])
    large = swap(members[10:110], members[130:230])

    audit = 'INSERT INTO "organizations_auditevent"'

    def is_audit(statement):  # on SQLite the entries of many members are one executemany, logged as "N times: INSERT"
        return statement.startswith(audit) or (" times: " + audit) in statement

    def without_audit(statements):
        return [s for s in statements if not is_audit(s)]

    assert len(without_audit(small)) == len(without_audit(large)), (small, large)
    # group locked; on PostgreSQL one statement checks the ids for the org, deletes
    # and inserts the links, touches the group and writes its audit entry
    # (scim.group_diff); elsewhere the ids checked and which of the named are
    # members (one statement), DELETE, INSERT, group touched and counted (one
    # statement) and the audit entry. The recompute: memberships locked if the
    # group is mapped (one statement), the org's mappings, the members' groups
    # and held grants (one statement), one UPDATE per resulting role (admin for
    # those added, member for those removed); activity
    postgresql = connection.vendor == "postgresql"
    assert len(without_audit(large)) == token_queries() + (2 if postgresql else 5) + 3 + 2 + ACTIVITY, large
    assert sum(s.startswith('UPDATE "organizations_membership"') for s in large) == 2
    # one statement for the entries of every member whose access changed, and
    # elsewhere than PostgreSQL the group's own entry (there it is part of the
    # group_diff statement)
    assert sum(is_audit(s) for s in large) == (1 if postgresql else 2)
    assert ScimGroupMember.objects.filter(group=group).count() == 120
    assert set(Membership.objects.filter(pk__in=[m.pk for m in members[130:230]]).values_list("role", flat=True)) == {OrgRole.ADMIN}
    assert set(Membership.objects.filter(pk__in=[m.pk for m in members[10:110]]).values_list("role", flat=True)) == {OrgRole.MEMBER}


def test_group_patch_of_an_unmapped_group_recomputes_nobody(scim, org):
    members = bulk_members(org, 120)
    group = ScimGroup.objects.create(organization=org, display_name="Unmapped")
    scim.get("/Users", {"count": 1})
    scim.get("/Users", {"count": 1})
    ops = [{"op": "add", "path": "members", "value": [{"value": str(m.pk)} for m in members[:100]]}]
    statements = data_statements(
        lambda: scim.patch(f"/Groups/{group.pk}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}), 204
    )
    # group locked; the members written: on PostgreSQL one statement (ids checked,
    # INSERT, group touched, audit: scim.group_diff), elsewhere four (ids checked
    # and which are members, INSERT, group touched and counted, audit); the
    # members locked if the group is mapped (it is not: it grants nothing, so
    # nobody's access can change, and nothing is locked or read); activity
    written = 1 if connection.vendor == "postgresql" else 4
    assert len(statements) == token_queries() + 1 + written + 1 + ACTIVITY, statements
    assert ScimGroupMember.objects.filter(group=group).count() == 100
