"""Lookups by key stay point queries when PostgreSQL's statistics do not know the org.

The trap (scim.api.lookups): other orgs hold most rows and are analyzed; a new org
grows without an ANALYZE, so the planner believes it is nearly empty and walking
it looks as cheap as the key's index. For each lookup an identity provider makes,
the statements the request really ran are EXPLAINed at two sizes of the org: each
must use the key's index, and read as many buffers at ten times the size."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership, MembershipEmail
from scim.api import lookups
from scim.models import ScimGroup
from tests import builders
from tests.builders import grow_org
from tests.plans import explain, is_prepared, is_read, nodes

pytestmark = pytest.mark.django_db

OTHER_ORGS, OTHER_MEMBERS, OTHER_GROUPS = 2, 6000, 3000
SMALL, LARGE = 150, 1500  # the new org's members (and groups) at the two measurements
SLACK = 3  # buffers a taller index may add between the sizes


BY_ID = {"organizations_membership_pkey", "membership_org_id_idx"}  # (organization, id) on both columns is a point query too


def key_lookups(org) -> dict[str, tuple[str, dict, set[str]]]:
    """name -> (path, query, the indexes that may find the row); each looks up the
    org's newest member or group, the last one a walk of the org in id order reaches."""
    member = Membership.objects.filter(organization=org).latest("pk")
    group = ScimGroup.objects.filter(organization=org).latest("pk")
    name = member.scim_username.upper()  # userName and e-mails compare case-insensitively
    return {
        "userName eq": ("/Users", {"filter": f'userName eq "{name}"'}, {"membership_username_ci_unique_per_org"}),
        "id eq": ("/Users", {"filter": f'id eq "{member.pk}"'}, BY_ID),
        "GET /Users/{id}": (f"/Users/{member.pk}", {}, BY_ID),
        "externalId eq": ("/Users", {"filter": f'externalId eq "{member.scim_external_id}"'}, {"membership_extid_ci_idx"}),
        "emails.value eq": ("/Users", {"filter": f'emails.value eq "{name}"'}, {"membershipemail_value_ci_idx"}),
        "emails[value eq]": ("/Users", {"filter": f'emails[value eq "{name}"]'}, {"membershipemail_value_ci_idx"}),
        "emails[type eq].value eq": (
            "/Users", {"filter": f'emails[type eq "work"].value eq "{name}"'}, {"membershipemail_value_ci_idx"}
        ),
        "group displayName eq": (
            "/Groups", {"filter": f'displayName eq "{group.display_name.upper()}"', "excludedAttributes": "members"},
            {"scimgroup_name_ci_unique_per_org"},
        ),
        "GET /Groups/{id}": (f"/Groups/{group.pk}", {"excludedAttributes": "members"}, {"scim_scimgroup_pkey"}),
    }


def measure(scim, path: str, query: dict, *, generic: bool = False) -> tuple[set[str], int, list[dict]]:
    """Indexes used and shared buffers read by the reads of one request.
    generic: the plans of its prepared statements (scim.rawsql.fetch_prepared) as
    PostgreSQL runs them once it keeps one plan for every value (the others as
    they are)."""
    with CaptureQueriesContext(connection) as ctx:
        response = scim.get(path, query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body.get("totalResults", 1) == 1, body
    reads = [q["sql"] for q in ctx.captured_queries if is_read(q["sql"])]
    plans = [explain(sql, generic=generic and is_prepared(sql)) for sql in reads]
    indexes = {n["Index Name"] for plan in plans for n in nodes(plan) if "Index Name" in n}
    buffers = sum(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"] for plan in plans)
    return indexes, buffers, plans


@pytest.mark.parametrize(
    "resource, filter_, expected",
    [
        ("user", 'userName eq "a@x.com"', lookups.POINT),
        ("user", 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@x.com"', lookups.POINT),
        ("user", 'id eq "12"', lookups.POINT),
        ("user", 'userName eq "a@x.com" and active eq true', lookups.POINT),
        ("user", 'externalId eq "00u1" and userName eq "a@x.com"', lookups.POINT),
        ("user", 'externalId eq "00u1"', lookups.INDEXED),
        ("user", 'emails.value eq "a@x.com"', lookups.INDEXED),
        ("user", 'emails eq "a@x.com"', lookups.INDEXED),
        ("user", 'emails[value eq "a@x.com"]', lookups.INDEXED),
        ("user", 'emails[type eq "work" and value eq "a@x.com"]', lookups.INDEXED),
        ("user", 'emails[type eq "work"].value eq "a@x.com"', lookups.INDEXED),
        ("user", 'externalId eq "00u1" and active eq true', lookups.INDEXED),
        ("group", 'displayName eq "Admins"', lookups.POINT),
        ("group", 'id eq "3"', lookups.POINT),
        # none: nothing keyed, a disjunction, a negation, null, another operator, a bad filter
        ("user", "active eq true", None),
        ("user", 'userName eq "a@x.com" or userName eq "b@x.com"', None),
        ("user", 'not (userName eq "a@x.com")', None),
        ("user", "userName eq null", None),
        ("user", 'userName ne "a@x.com"', None),
        ("user", 'userName sw "a"', None),
        ("user", 'emails[type eq "work"]', None),
        ("user", 'displayName eq "Ada"', None),
        ("group", 'externalId eq "x"', None),
        ("group", 'members[value eq "5"]', None),
        ("user", 'userName eq "a', None),
        ("user", None, None),
    ],
)
def test_filters_naming_a_key_are_told_apart(resource, filter_, expected):
    assert lookups.kind(resource, filter_) == expected


def test_a_point_lookup_pages_like_any_list(scim, org):
    """At most one row, cut in Python: startIndex past it gives an empty page and the right total."""
    member = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Ada@x.com"}).json()
    group = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"}).json()
    for path, filter_, found in (
        ("/Users", 'userName eq "ada@X.com"', member["id"]),
        ("/Users", f'id eq "{member["id"]}" and active eq true', member["id"]),
        ("/Groups", 'displayName eq "ADMINS"', group["id"]),
    ):
        first = scim.get(path, {"filter": filter_}).json()
        assert (first["totalResults"], [r["id"] for r in first["Resources"]]) == (1, [found])
        later = scim.get(path, {"filter": filter_, "startIndex": 2}).json()
        assert (later["totalResults"], later["Resources"]) == (1, [])
        none = scim.get(path, {"filter": filter_, "count": 0}).json()
        assert (none["totalResults"], none["Resources"]) == (1, [])


@pytest.mark.postgres
def test_lookups_by_key_read_as_much_in_a_large_new_org_the_statistics_do_not_know(scim, org):
    for _ in range(OTHER_ORGS):  # the rest of the database, analyzed
        other = builders.make_org()
        grow_org(other, 0, OTHER_MEMBERS)
    with connection.cursor() as cursor:
        for model in (Membership, MembershipEmail, ScimGroup):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    grow_org(org, 0, SMALL)  # from here on, no ANALYZE: the statistics know the org with its owner only
    scim.get("/Users", {"count": 1})
    lookups_ = key_lookups(org)
    # The user reads are prepared statements: their plan as the connection runs them,
    # and their generic plan (scim.rawsql.GENERIC_PLANS); both must find the key.
    small = {(name, generic): measure(scim, path, query, generic=generic)
             for name, (path, query, _) in lookups_.items() for generic in (False, True)}
    grow_org(org, SMALL, LARGE)
    lookups_ = key_lookups(org)
    large = {(name, generic): measure(scim, path, query, generic=generic)
             for name, (path, query, _) in lookups_.items() for generic in (False, True)}

    for (name, generic), (indexes, buffers, plans) in large.items():
        expected = lookups_[name][2]
        small_buffers = small[name, generic][1]
        assert expected & indexes, (name, generic, indexes, plans)
        assert buffers <= small_buffers + SLACK, (name, generic, small_buffers, buffers, plans)


@pytest.mark.postgres
def test_the_hot_user_reads_are_prepared_statements(scim, org):
    """Parsed and planned once per connection: the query log holds their EXECUTE."""
    grow_org(org, 0, 5)
    member = Membership.objects.filter(organization=org).latest("pk")
    for path, query in (
        ("/Users", {"filter": f'userName eq "{member.scim_username}"'}),
        ("/Users", {"filter": f'externalId eq "{member.scim_external_id}"'}),
        (f"/Users/{member.pk}", {}),
        ("/Users", {"startIndex": 1, "count": 2}),
    ):
        for _ in range(2):
            with CaptureQueriesContext(connection) as ctx:
                assert scim.get(path, query).status_code == 200
        reads = [q["sql"] for q in ctx.captured_queries if is_read(q["sql"])]
        assert reads and reads[-1].startswith("EXECUTE orgdesk_"), (path, query, reads)  # after the token row
