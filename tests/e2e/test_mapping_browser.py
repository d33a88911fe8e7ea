"""Group mapping in a real browser: an admin maps a pushed SCIM group on the SCIM
tab, the member gets the roles, the "why" page explains them, and removing the
mapping (after confirming) takes them away."""
from __future__ import annotations

import pytest

from organizations.models import AccessSource, Membership, Organization, OrgRole, StackAccess
from scim import provisioning
from tests import builders
from tests.e2e.test_members_browser import snap
from tests.builders import ensure_builtin_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pick_group(page, typed: str, name: str) -> None:
    """The SCIM Group picker searches as one types (select2)."""
    page.locator("#group-mapping .select2-selection").click()
    page.locator(".select2-search__field").fill(typed)
    option = page.locator(".select2-results__option", has_text=name)
    option.wait_for()
    snap(page, "mapping-1-group-picker")
    option.click()


def held(membership: Membership) -> tuple[str, set[tuple[str, str]]]:
    membership.refresh_from_db()
    rows = StackAccess.objects.filter(membership=membership, source=AccessSource.SCIM)
    return membership.role, set(rows.values_list("stack__name", "role__name"))


def test_admin_maps_a_scim_group_in_the_browser_and_the_member_gets_the_roles(browser_page, live_server):
    ensure_builtin_roles()
    org = builders.make_org("Acme Browser")
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    admin = builders.make_member(org, "ada@acme.example", role=OrgRole.ADMIN)
    jane = builders.make_member(org, "jane@acme.example")
    builders.make_stack(org, "Web")
    builders.make_stack(org, "Docs")
    group = provisioning.create_group(org, "Engineering", member_ids=[jane.pk], actor=None)

    from playwright.sync_api import expect

    page = browser_page
    builders.sign_in_page(page, live_server.url, admin.user.email)
    page.click(f"#org-settings-list >> text={org.name}")
    page.get_by_role("tab", name="SCIM").click()
    section = page.locator("#group-mapping")
    # expect() waits for the tab's page; an instant is_visible() raced the navigation in CI.
    expect(section.get_by_text("No group is mapped yet.")).to_be_visible()

    pick_group(page, "engin", "Engineering")
    section.get_by_label("Organization Role").select_option(label="Admin")
    section.get_by_label("Stack Role: Web").select_option(label="Developer")
    section.get_by_label("All stacks").select_option(label="Content Manager")
    section.get_by_role("button", name="Update").click()

    # The preview says what will change before anything does.
    preview = page.locator("#mapping-preview")
    assert "Become Admin of the organization" in preview.inner_text()
    assert "jane@acme.example" in preview.locator('[data-change="org-role-admin-gain"]').inner_text()
    assert held(jane) == (OrgRole.MEMBER, set())
    snap(page, "mapping-2-preview")
    page.get_by_role("button", name="Confirm").click()

    assert "Mapping of Engineering saved." in page.locator("ul.messagelist").inner_text()
    row = page.locator('#group-mapping-list tr[data-group="Engineering"]')
    assert row.locator(".member-count").inner_text() == "1"
    assert "Web: Developer" in row.inner_text() and "All stacks: Content Manager" in row.inner_text()
    assert held(jane) == (
        OrgRole.ADMIN,
        {("Web", "Developer"), ("Web", "Content Manager"), ("Docs", "Content Manager")},
    )

    # Back after Confirm: the preview is a GET (Post/Redirect/Get), so Chromium
    # shows it again, with its heading, and never "Confirm Form Resubmission".
    page.go_back()
    assert "/mappings/preview/?proposal=" in page.url
    expect(page.locator("#mapping-preview h2")).to_contain_text("Update the mapping of Engineering")
    expect(page.locator("#preview-confirmed")).to_be_visible()
    assert page.locator("#mapping-confirm").count() == 0  # nothing to confirm twice
    page.reload()  # and Reload re-posts nothing either
    expect(page.locator("#mapping-preview h2")).to_contain_text("Update the mapping of Engineering")

    # "Why does Jane have Admin?" -> the Engineering group.
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/members/{jane.pk}/access/")
    assert "SCIM group Engineering" in page.locator("#org-role").inner_text()
    assert page.locator('#stack-roles tr[data-stack="Web"][data-role="Developer"]').count() == 1

    # Edit: drop the all-stacks role.
    page.get_by_role("tab", name="SCIM").click()
    page.locator('#group-mapping-list tr[data-group="Engineering"]').get_by_role("link", name="Edit").click()
    page.wait_for_url("**edit_mapping=**")
    assert "Editing the mapping of Engineering" in page.locator("#group-mapping-form").inner_text()
    page.locator("#group-mapping").get_by_label("All stacks").select_option(label="No role on all stacks")
    page.locator("#group-mapping").get_by_role("button", name="Update").click()
    assert "Lose Content Manager on Docs" in page.locator("#mapping-preview").inner_text()
    page.get_by_role("button", name="Confirm").click()
    assert held(jane) == (OrgRole.ADMIN, {("Web", "Developer")})

    # A member removed from the group over SCIM loses what it granted.
    provisioning.change_group_members(group, remove=[jane.pk], actor=None)
    assert held(jane) == (OrgRole.MEMBER, set())
    provisioning.change_group_members(group, add=[jane.pk], actor=None)
    assert held(jane) == (OrgRole.ADMIN, {("Web", "Developer")})

    # Remove the mapping, after a confirmation page.
    page.reload()
    page.locator('#group-mapping-list tr[data-group="Engineering"]').get_by_role("link", name="Remove").click()
    assert "Remove the mapping of Engineering?" in page.locator("#mapping-preview").inner_text()
    assert "Lose Admin (become Member)" in page.locator("#mapping-preview").inner_text()
    page.get_by_role("button", name="Remove mapping").click()
    expect(page.locator("#no-group-mappings")).to_be_visible()
    assert held(jane) == (OrgRole.MEMBER, set())
