"""Every admin page an Owner opens runs the same number of SQL statements for an
org of a few members and for one many times larger: nothing is fetched per
member, group, mapping or request logged. The pages are those the admin
benchmark times (benchmarks/admin_pages.py), so the two lists never drift."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.admin_pages import pages
from mappings import services as mapping_services
from organizations import services
from organizations.models import Organization, OrgRole
from scim.models import AppInstallation, MarketplaceApp, ProvisioningEvent, ScimGroup, ScimGroupMember
from tests import builders
from tests.builders import bulk_members
from tests.builders import builtin

pytestmark = pytest.mark.django_db

# A bound on any page, whatever the size (the benchmark shows the real figures).
MAX_STATEMENTS = 30


def grow(org: Organization, scale: int) -> int:
    """An org with `scale` times as much of everything; returns the big group's id."""
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    org.refresh_from_db()
    installation = AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim"))
    stacks = [builders.make_stack(org, f"Stack {i}") for i in range(3)]
    people = bulk_members(org, 60 * scale, scim_managed=True) + bulk_members(org, 2 * scale, prefix="hand")
    builders.make_member(org, role=OrgRole.ADMIN)
    groups = ScimGroup.objects.bulk_create(
        [ScimGroup(organization=org, display_name=f"Group {i:04d}") for i in range(5 * scale)]
    )
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(group=groups[0], membership=m) for m in people[: 10 * scale]]
        + [ScimGroupMember(group=g, membership=people[i]) for i, g in enumerate(groups[1:])]
    )
    for group in groups[1:4]:
        mapping_services.save_mapping(
            org, group, org_role="member", stack_roles={stacks[0]: builtin("Developer")}, all_stacks_role=None,
            actor=None,
        )
    mapping_services.save_mapping(org, groups[0], org_role="admin", stack_roles={}, all_stacks_role=builtin("Admin"),
                                  actor=None)
    for m in people[:scale]:
        services.grant_stack_role(m, stacks[1], builtin("Developer"), actor=None)
    ProvisioningEvent.objects.bulk_create(
        [
            ProvisioningEvent(organization=org, installation=installation, method=method, path="/x",
                              operation=op, status=status, outcome="success" if status < 400 else "failure")
            for _ in range(10 * scale)
            for method, op, status in (("GET", "List users", 200), ("POST", "Create user", 201),
                                       ("GET", "Get user", 404))
        ]
    )
    return groups[0].pk


def statements(client, org: Organization, big_group_id: int) -> dict[str, tuple[int, int]]:
    counts = {}
    for label, url in pages(org, big_group_id):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        key = label.split(",")[0] if label.startswith("mapping preview") else label
        counts[key] = (len(ctx.captured_queries), response.status_code)
    return counts


def test_every_admin_page_runs_as_many_statements_at_any_org_size(client):
    small = builders.make_org("Small")
    large = builders.make_org("Large")
    small_group, large_group = grow(small, 1), grow(large, 6)
    owner_small, owner_large = builders.owner_of(small).user, builders.owner_of(large).user

    client.force_login(owner_small)
    small_counts = statements(client, small, small_group)
    client.force_login(owner_large)
    large_counts = statements(client, large, large_group)

    assert {k: status for k, (_, status) in large_counts.items() if status != 200} == {}
    assert small_counts == large_counts
    assert max(n for n, _ in large_counts.values()) <= MAX_STATEMENTS, large_counts
    assert len(large_counts) >= 25  # every page of the benchmark was visited
