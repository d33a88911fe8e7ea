"""The mapping preview stays flat while an org grows, whatever PostgreSQL's statistics say.

The planner trap of tests/organizations/test_admin_page_plans.py, for the page
an admin sees after Update on a group mapping: an identity provider has just
pushed a new org's people and filled a group with them, with no ANALYZE since,
so the planner believes the org and the group hold a row or two. Joined
plainly, the group's members and the org's were read as a walk of the one for
each row of the other (seconds at a few thousand members, minutes at 20,000).
Every statement preview_mapping runs, for an update and for a removal, is
EXPLAINed on such an org, in a database of a few big orgs and in one of many
small ones (the planner's choices differ between them)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mappings.models import GroupMapping, GroupMappingStackRole
from mappings.preview import REMOVED, SAMPLE_SIZE, Proposal, preview_mapping
from organizations.models import AccessSource, Membership, Organization, Stack, StackAccess
from scim.models import ScimGroup, ScimGroupMember
from tests import builders
from tests.builders import builtin
from tests.plans import explain, nodes

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NEW_ORG_ROWS = 3000
# A scan repeated for each row of another reads one row, or a few: a repeated
# scan that reads more is a walk of the group, the org or a stack per member.
MAX_ROWS_PER_PROBE = 5
# Reading the group's members and probing a few indexes for each costs about
# three buffers per index and member; a walk per member costs thousands.
MAX_BUFFERS = 10 * NEW_ORG_ROWS


def mapped_group(org, name: str, members: list[int], org_role: str, stack, role) -> ScimGroup:
    """A group of these members mapped to org_role and role on stack, each
    member holding the derived grant: written in bulk, as a recompute leaves it."""
    group = ScimGroup.objects.create(organization=org, display_name=name)
    ScimGroupMember.objects.bulk_create([ScimGroupMember(group=group, membership_id=i) for i in members],
                                        batch_size=2000)
    mapping = GroupMapping.objects.create(organization=org, group=group, org_role=org_role)
    GroupMappingStackRole.objects.create(mapping=mapping, stack=stack, role=role)
    StackAccess.objects.bulk_create(
        [StackAccess(membership_id=i, stack=stack, role=role, source=AccessSource.SCIM) for i in members],
        batch_size=2000, ignore_conflicts=True)
    return group


def members_of(org) -> list[int]:
    return list(Membership.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))


def grow(org, n: int):
    """n members and the Owner in a group "Everyone" (Member, Developer on Web),
    the first tenth also in "Ops" (Admin, Developer on Web), a third of those
    holding Developer on Web by hand too. The org roles are left as they were
    (the plans do not depend on them)."""
    dev = builtin("Developer")
    builders.bulk_members(org, n, scim_managed=True)
    web = Stack.objects.create(organization=org, name="Web")
    ids = members_of(org)
    everyone = mapped_group(org, "Everyone", ids, "member", web, dev)
    mapped_group(org, "Ops", ids[: n // 10], "admin", web, dev)
    StackAccess.objects.bulk_create(
        [StackAccess(membership_id=i, stack=web, role=dev, source=AccessSource.MANUAL) for i in ids[: n // 10 : 3]])
    return everyone


@pytest.fixture(params=[(2, 6000), (100, 60)], ids=["few-big-orgs", "many-small-orgs"])
def unanalyzed_group(request):
    other_orgs, other_rows = request.param
    for _ in range(other_orgs):  # the rest of the database, analyzed
        grow(builders.make_org(), other_rows)
    with connection.cursor() as cursor:
        for model in (Membership, ScimGroup, ScimGroupMember, StackAccess, Stack, GroupMapping,
                      GroupMappingStackRole, Organization):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    org = builders.make_org("Growing", owner_email="owner@growing.example")
    return org, grow(org, NEW_ORG_ROWS)  # from here on, no ANALYZE


def repeated_walks(plan: dict) -> list[tuple[str, float]]:
    """Scans run once per row of another that read more than a few rows each time."""
    return [
        (n.get("Index Name") or n.get("Relation Name") or n["Node Type"],
         (n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)))
        for n in nodes(plan)
        if n.get("Actual Loops", 1) > 1 and "Scan" in n["Node Type"]
        and n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0) > MAX_ROWS_PER_PROBE
    ]


def test_the_preview_reads_a_new_group_once(unanalyzed_group):
    org, group = unanalyzed_group
    docs = Stack.objects.create(organization=org, name="Docs")
    update = Proposal("admin", frozenset({(docs.pk, builtin("Content Manager").pk)}), None)
    for proposal in (update, REMOVED):
        with CaptureQueriesContext(connection) as ctx:
            preview = preview_mapping(org, group, proposal)
        # The org's members and its Owner; Developer on Web is lost by all but
        # Ops (the Owner and the next members), whose mapping grants it too.
        assert preview.members == NEW_ORG_ROWS + 1
        assert [(c.stack, c.count) for c in preview.losses] == [("Web", NEW_ORG_ROWS + 1 - NEW_ORG_ROWS // 10)]
        for query in ctx.captured_queries:
            plan = explain(query["sql"])
            assert not repeated_walks(plan), (repeated_walks(plan), query["sql"])
            read = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
            assert read < MAX_BUFFERS, (read, query["sql"])
        assert preview.losses[0].sample and len(preview.losses[0].sample) == SAMPLE_SIZE
