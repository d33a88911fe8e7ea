"""The admin pages stay flat while an org grows, whatever PostgreSQL's statistics say.

The planner trap of the SCIM lookups (tests/scim/api/test_lookup_plans.py) again:
other orgs hold most rows and are analyzed; a new org grows (as Okta grows one)
with no ANALYZE, so the planner believes it is nearly empty. The statements the
Members tab, the Audit log tab and the SCIM tab's Provisioning health really ran
are EXPLAINed on that org: each reads the org through the index its page relies
on, and none walks the whole table."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.models import AuditEvent, Membership, MembershipEmail, Organization, User
from organizations.paging import PAGE_SIZE, TRAIL_COUNT_CAP
from organizations.signin.members_tab import INVITATIONS_PER_PAGE
from organizations.signin.models import Invitation
from scim.activity_list import LINES_PER_PAGE, RAW_ROWS_PER_PAGE
from scim.models import ProvisioningEvent, ScimGroup
from tests import builders
from tests.builders import grow_org
from tests.plans import explain, nodes

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OTHER_ORGS, OTHER_ROWS = 2, 6000
NEW_ORG_ROWS = 3000
# Every org's events in time order: a page of one org read from it walks the others'.
ALL_ORGS_BY_TIME = {"organizations_auditevent_created_at_53697a36", "provevent_time_idx"}


# Entries of several kinds, as a real trail holds (kind=members is the first two).
TRAIL_ACTIONS = ("membership.add", "membership.change_role", "stack.create", "sso.enable", "scim_group.create")


def audit_trail(org, n: int) -> None:
    AuditEvent.objects.bulk_create(
        [AuditEvent(organization=org, org_uid=org.uid, actor_type="system", action=TRAIL_ACTIONS[i % len(TRAIL_ACTIONS)],
                    target_label=f"u{i}@plans.example") for i in range(n)],
        batch_size=2000,
    )


def activity(org, n: int) -> None:
    ProvisioningEvent.objects.bulk_create(
        [ProvisioningEvent(organization=org, method="GET", path="/scim/v2/Users", operation="Get user",
                           status=200 if i % 7 else 401, outcome="success" if i % 7 else "failure")
         for i in range(n)],
        batch_size=2000,
    )


def plans_of(client, url: str, table: str) -> list[dict]:
    """The plans of the page's SELECTs that read `table`."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return [
        explain(q["sql"]) for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "(SELECT")) and f'"{table}"' in q["sql"]
    ]


def scans(plans: list[dict], table: str) -> tuple[set[str], list[str]]:
    """Indexes used on `table`, and the node types of the scans that walk it whole."""
    indexes, walks = set(), []
    for plan in plans:
        for n in nodes(plan):
            if n.get("Relation Name") != table:
                continue
            if "Index Name" in n:
                indexes.add(n["Index Name"])
            elif n["Node Type"] == "Seq Scan":
                walks.append(n["Node Type"])
    return indexes, walks


def rows_read(plans: list[dict], table: str) -> int:
    """The most rows one scan of `table` read (returned or filtered out)."""
    return max(((n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)) * n.get("Actual Loops", 1)
                for plan in plans for n in nodes(plan) if n.get("Relation Name") == table), default=0)


@pytest.fixture
def unanalyzed_org(client):
    for _ in range(OTHER_ORGS):  # the rest of the database, analyzed
        other = builders.make_org()
        grow_org(other, 0, OTHER_ROWS)
        audit_trail(other, OTHER_ROWS)
        activity(other, OTHER_ROWS)
    with connection.cursor() as cursor:
        for model in (Membership, MembershipEmail, ScimGroup, AuditEvent, ProvisioningEvent, Organization):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    org = builders.make_org("Growing", owner_email="owner@growing.example")
    grow_org(org, 0, NEW_ORG_ROWS)  # from here on, no ANALYZE
    audit_trail(org, NEW_ORG_ROWS)
    activity(org, NEW_ORG_ROWS)
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    client.force_login(Membership.objects.get(organization=org, role="owner").user)
    return org


def test_admin_pages_read_a_new_org_through_its_indexes(client, unanalyzed_org):
    org = unanalyzed_org
    members = plans_of(client, reverse("admin:org-settings-members", args=[org.uid]), "organizations_membership")
    indexes, walks = scans(members, "organizations_membership")
    assert not walks, members
    assert indexes & {"membership_org_id_idx", "membership_unique_person_per_org", "membership_org_role_idx"}, indexes
    # Its page, and the member picker's, walk the userName index in its order and
    # stop at a page: believed a row or two, the org was otherwise read whole,
    # joined to its accounts and sorted for every page.
    for url, most in ((reverse("admin:org-settings-members", args=[org.uid]), PAGE_SIZE + 1),
                      (reverse("admin:org-settings-members", args=[org.uid]) + "?page=2", 2 * PAGE_SIZE + 1),
                      (reverse("admin:org-settings-members", args=[org.uid]) + "?status=active", PAGE_SIZE + 1),
                      (reverse("admin:member-picker", args=[org.uid]), PAGE_SIZE + 1)):
        pages = [p for p in plans_of(client, url, "organizations_membership") if p["Node Type"] != "Aggregate"]
        assert pages and rows_read(pages, "organizations_membership") <= most < NEW_ORG_ROWS, (url, pages)

    audit = plans_of(client, reverse("admin:org-settings-audit", args=[org.uid]), "organizations_auditevent")
    indexes, walks = scans(audit, "organizations_auditevent")
    assert not walks, audit
    assert "audit_org_time_idx" in indexes and not indexes & ALL_ORGS_BY_TIME, indexes
    # Its count stops at the trail's cap: each entry counted is a table row read
    # where VACUUM has not marked the pages all-visible.
    counts = [p for p in audit if p["Node Type"] == "Aggregate"]
    assert counts and rows_read(counts, "organizations_auditevent") == TRAIL_COUNT_CAP + 1 < NEW_ORG_ROWS, counts
    # Its page is read in the index's order and stops at a page: the planner,
    # believing the org nearly empty, would otherwise fetch the whole trail to sort it.
    for url in (reverse("admin:org-settings-audit", args=[org.uid]),
                reverse("admin:org-settings-audit", args=[org.uid]) + "?page=2"):
        pages = [p for p in plans_of(client, url, "organizations_auditevent") if p["Node Type"] != "Aggregate"]
        assert pages and rows_read(pages, "organizations_auditevent") <= 2 * PAGE_SIZE + 1, pages

    kind = plans_of(client, reverse("admin:org-settings-audit", args=[org.uid]) + "?kind=members",
                    "organizations_auditevent")
    indexes, walks = scans(kind, "organizations_auditevent")
    assert not walks, kind
    assert indexes & {"audit_org_action_time_idx", "audit_org_time_idx"} and not indexes & ALL_ORGS_BY_TIME, indexes
    # A kind is read action by action, each the start of its index range: a page,
    # and a count that stops at the cap, not every entry of the kind.
    counts = [p for p in kind if p["Node Type"] == "Aggregate"]
    assert counts and rows_read(counts, "organizations_auditevent") <= TRAIL_COUNT_CAP + 1, counts
    pages = [p for p in kind if p["Node Type"] != "Aggregate"]
    assert pages and rows_read(pages, "organizations_auditevent") <= PAGE_SIZE + 1, pages

    scim = plans_of(client, reverse("admin:org-settings-scim", args=[org.uid]), "scim_provisioningevent")
    indexes, walks = scans(scim, "scim_provisioningevent")
    assert not walks, scim
    assert indexes & {"provevent_org_time_idx", "provevent_org_writes_idx"} and not indexes & ALL_ORGS_BY_TIME, indexes
    # The activity page, and the health summary's last success and last failure:
    # each the first entries of an index in its order. (The chart's hours, an
    # Append of the rolled-up hours and the calls since the last rollup, read
    # what came since that rollup: tests/scim/test_health_rollup.py.)
    pages = [p for p in scim if p["Node Type"] not in ("Aggregate", "Append")]
    assert pages and rows_read(pages, "scim_provisioningevent") <= LINES_PER_PAGE + 1, pages
    everything = plans_of(client, reverse("admin:org-settings-scim", args=[org.uid]) + "?activity=all",
                          "scim_provisioningevent")
    counts = [p for p in everything if p["Node Type"] == "Aggregate"]
    assert counts and rows_read(counts, "scim_provisioningevent") == TRAIL_COUNT_CAP + 1 < NEW_ORG_ROWS, counts
    pages = [p for p in everything if p["Node Type"] not in ("Aggregate", "Append")]
    assert pages and rows_read(pages, "scim_provisioningevent") <= RAW_ROWS_PER_PAGE + 1 < NEW_ORG_ROWS, pages



def test_one_member_and_the_managers_check_are_point_reads_in_a_new_org(client, unanalyzed_org):
    """A member's pages find the member by id, and every page finds the signed-in
    Owner's own membership by account: point reads, however few rows the
    planner believes the org holds (it walked the org for each: 3,000 rows here)."""
    org = unanalyzed_org
    member = Membership.objects.filter(organization=org).exclude(role="owner").latest("pk")
    for url in (reverse("admin:org-settings", args=[org.uid]),
                reverse("admin:member-detail", args=[org.uid, member.pk]),
                reverse("admin:member-deactivate", args=[org.uid, member.pk]),
                reverse("admin:member-access", args=[org.uid, member.pk])):
        reads = [p for p in plans_of(client, url, "organizations_membership") if p["Node Type"] != "Aggregate"]
        assert reads and rows_read(reads, "organizations_membership") <= 1, (url, reads)


def test_pending_invitations_are_a_page_and_a_capped_count_in_a_new_org(client, unanalyzed_org):
    """An identity provider's import leaves an open invitation per member it
    pushed: the Members tab shows a page of them, newest first, and counts them up
    to a cap, however many there are and whatever the planner believes."""
    org = unanalyzed_org
    expires = timezone.now() + timedelta(days=7)
    members = Membership.objects.filter(organization=org).exclude(role="owner").order_by("pk")[:TRAIL_COUNT_CAP + 100]
    Invitation.objects.bulk_create([Invitation(organization=org, membership=m, email=m.scim_username, expires_at=expires,
                                               source="scim") for m in members])
    url = reverse("admin:org-settings-members", args=[org.uid])
    plans = plans_of(client, url, "organizations_invitation")
    counts = [p for p in plans if p["Node Type"] == "Aggregate"]
    assert counts and rows_read(counts, "organizations_invitation") <= TRAIL_COUNT_CAP + 1, counts
    pages = [p for p in plans if p["Node Type"] == "Limit"]
    assert pages and rows_read(pages, "organizations_invitation") <= INVITATIONS_PER_PAGE + 1, pages
    assert f"Pending invitations ({TRAIL_COUNT_CAP:,}+)" in client.get(url).content.decode()

    # Once analyzed, an org with none is counted from its own (empty) range of the
    # index, not by walking the table for a first 501 (the average org holds them).
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Invitation._meta.db_table)}")
    small = builders.make_org("Small", owner_email="owner@small.example")
    client.force_login(Membership.objects.get(organization=small, role="owner").user)
    plans = plans_of(client, reverse("admin:org-settings-members", args=[small.uid]), "organizations_invitation")
    assert plans and rows_read(plans, "organizations_invitation") == 0, plans


def buffers(plans: list[dict]) -> int:
    return sum(p.get("Shared Hit Blocks", 0) + p.get("Shared Read Blocks", 0) for p in plans)


@pytest.fixture
def grown_after_vacuum(transactional_db, client):
    """The database as autovacuum leaves it (other orgs vacuumed and analyzed:
    the trigram indexes' own statistics are set by VACUUM only), then a new org
    grown by SCIM with neither: what an identity provider's first import looks like."""
    tables = [connection.ops.quote_name(m._meta.db_table) for m in (Membership, MembershipEmail, User, Organization)]
    with connection.cursor() as cursor:
        for table in tables:  # no autovacuum ANALYZE of the new org in the middle of the test
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    for _ in range(OTHER_ORGS):
        grow_org(builders.make_org(), 0, OTHER_ROWS)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
    org = builders.make_org("Growing", owner_email="owner@growing.example")
    grow_org(org, 0, NEW_ORG_ROWS)
    client.force_login(Membership.objects.get(organization=org, role="owner").user)
    yield org
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


# A substring of 11 userNames in each org (x99, x990-x999 of a batch of 3,000 or
# 6,000) and one in each for the picker's: the trigram indexes find those few
# without reading the org, as a search for one person's e-mail.
TRIGRAM_INDEXES = {"membership_username_trgm", "membership_name_trgm"}
# The membership indexes that start with the org: read for a search, they walk it.
ORG_INDEXES = {"membership_org_id_idx", "membership_org_role_idx", "membership_unique_person_per_org",
               "membership_username_ci_unique_per_org", "membership_extid_ci_idx"}
# Reading the new org through an (organization, ...) index and filtering each
# member costs a buffer per ~50 members and a LIKE per member; the matches cost
# a few pages of the indexes and one per row found.
MAX_SEARCH_BUFFERS = 300


def org_reads(plan: dict, under_and: bool = False) -> list[str]:
    """Scans of an index that starts with the org, other than one ANDed with
    the trigram matches (that reads the org's index entries, a few pages,
    never its rows)."""
    found = []
    # A range of the userName within the org (a whole e-mail's search) is no walk.
    ranged = "lower((scim_username)::text) >=" in plan.get("Index Cond", "")
    if plan.get("Index Name") in ORG_INDEXES and not under_and and not ranged:
        found.append(plan["Index Name"])
    for child in plan.get("Plans", []):
        found += org_reads(child, plan["Node Type"] == "BitmapAnd")
    return found


USERNAME_RANGE = {"membership_username_ci_unique_per_org", "membership_name_trgm"}


def search_urls(org) -> list[tuple[str, set[str]]]:
    """Searches and the indexes each must read: a substring the trigram indexes;
    a whole e-mail the start of the userName (a range of the (organization,
    lower(userName)) index: its trigrams, shared with every address of its
    domain in every org, would read them all) and the name trigrams."""
    member = Membership.objects.filter(organization=org, scim_managed=True).order_by("-pk").first()
    members = reverse("admin:org-settings-members", args=[org.uid])
    return [(members + "?q=x99", TRIGRAM_INDEXES), (members + f"?q={member.scim_username}", USERNAME_RANGE),
            (reverse("admin:member-picker", args=[org.uid]) + "?term=x999", TRIGRAM_INDEXES)]


def test_searching_a_new_org_reads_the_trigram_indexes_not_the_org(client, grown_after_vacuum):
    for url, expected in search_urls(grown_after_vacuum):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        searches = [q["sql"] for q in ctx.captured_queries if " LIKE " in q["sql"]]
        assert len(searches) == 2, url  # the capped count and the page
        for sql in searches:
            plan = explain(sql)
            _, walks = scans([plan], "organizations_membership")
            assert not walks, (url, plan)
            # Bitmap index scans name their index, not their table.
            indexes = {n["Index Name"] for n in nodes(plan) if "Index Name" in n}
            assert expected <= indexes, (url, indexes)
            assert not org_reads(plan), (url, plan)
            assert buffers([plan]) < MAX_SEARCH_BUFFERS, (url, buffers([plan]), plan)
