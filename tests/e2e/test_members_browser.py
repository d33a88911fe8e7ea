"""An Owner manages a big org's members by hand in a real browser: the Members
tab (more members than one page) searched, filtered and paged, a member
deactivated, reactivated and removed; a stack renamed and deleted."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from organizations import services
from organizations.models import AuditEvent, Membership, OrgRole, Stack
from organizations.paging import PAGE_SIZE
from tests import builders
from tests.builders import builtin, bulk_members, ensure_builtin_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def snap(page, name: str) -> None:
    """ORGDESK_SCREENSHOTS=<dir> keeps a screenshot of each step (for a human to look at)."""
    folder = os.environ.get("ORGDESK_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def submit_filters(page) -> None:
    with page.expect_navigation():
        page.click("#member-filter-submit")


def rows(page) -> list[str]:
    return page.locator("#members tbody tr[data-member]").evaluate_all("rs => rs.map(r => r.dataset.member)")


def test_owner_searches_filters_pages_and_manages_members(live_server, browser_page):
    org = builders.make_org("Bigco", owner_email="owner@bigco.example")
    bulk_members(org, PAGE_SIZE + 15, prefix="staff", scim_managed=True)
    jo = builders.make_member(org, "jo.hand@bigco.example")
    page = browser_page
    builders.sign_in_page(page, live_server.url, "owner@bigco.example")
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/members/")
    assert len(rows(page)) == PAGE_SIZE
    expect(page.locator("#members caption")).to_contain_text(f"({PAGE_SIZE + 17})")
    snap(page, "members-1-tab")

    with page.expect_navigation():  # the next page loaded before its rows are read
        page.click("#members-pager >> text=Next ›")
    assert len(rows(page)) == 17
    expect(page.locator("#members-pager")).to_contain_text("page 2 of 2")

    page.fill("#id_q", "jo.hand")
    submit_filters(page)
    assert rows(page) == ["jo.hand@bigco.example"]
    page.fill("#id_q", "")
    page.select_option("#id_source", "manual")
    submit_filters(page)
    assert set(rows(page)) == {"owner@bigco.example", "jo.hand@bigco.example"}
    page.select_option("#id_source", "scim")
    submit_filters(page)
    assert len(rows(page)) == PAGE_SIZE
    expect(page.locator("#members .idp-badge")).to_have_count(PAGE_SIZE)
    snap(page, "members-2-filtered")

    # Deactivate from a search result; the list comes back with the search kept.
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/members/?q=jo.hand")
    page.locator('tr[data-member="jo.hand@bigco.example"] .member-deactivate').click()
    expect(page.locator("#member-confirm h2")).to_contain_text("Deactivate jo.hand@bigco.example?")
    snap(page, "members-3-confirm")
    page.click("#member-action-confirm")
    assert "jo.hand@bigco.example was deactivated." in page.locator(".messagelist").text_content()
    assert page.url.endswith("?q=jo.hand")
    expect(page.locator('tr[data-member="jo.hand@bigco.example"] .member-status')).to_contain_text("Deactivated")
    page.select_option("#id_status", "deactivated")
    submit_filters(page)
    assert rows(page) == ["jo.hand@bigco.example"]

    page.locator('tr[data-member="jo.hand@bigco.example"] .member-reactivate').click()
    with page.expect_navigation():  # the reactivation answered before the database is read
        page.click("#member-action-confirm")
    jo.refresh_from_db()
    assert jo.active

    # An IdP-managed member warns before a change by hand; then remove one.
    staff = Membership.objects.filter(organization=org, scim_managed=True).order_by("pk").first()
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/members/?q={staff.scim_username}")
    page.locator(f'tr[data-member="{staff.user.email}"] .member-remove').click()
    expect(page.locator("#idp-warning")).to_contain_text("pushes its own state again")
    page.click("#member-action-confirm")
    assert f"{staff.user.email} was removed" in page.locator(".messagelist").text_content()
    assert not Membership.objects.filter(pk=staff.pk).exists()
    assert set(AuditEvent.objects.filter(organization=org, action__startswith="membership.").values_list(
        "action", flat=True)) >= {"membership.deactivate", "membership.reactivate", "membership.remove"}

    # The Owner's row offers no deactivate or remove.
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/members/?role=owner")
    expect(page.locator('tr[data-member="owner@bigco.example"] .member-remove')).to_have_count(0)


def test_owner_renames_and_deletes_a_stack(live_server, browser_page):
    ensure_builtin_roles()
    org = builders.make_org("Stackco", owner_email="owner@stackco.example")
    web = builders.make_stack(org, "Web")
    for m in bulk_members(org, 3):
        services.grant_stack_role(m, web, builtin("Developer"), actor=None)
    page = browser_page
    builders.sign_in_page(page, live_server.url, "owner@stackco.example")
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/stacks/")
    page.locator('tr[data-stack="Web"] .stack-rename').click()
    page.fill("#id_name", "Website")
    page.click("#stack-rename-form input[type=submit]")
    assert 'Stack "Web" is now called "Website".' in page.locator(".messagelist").text_content()
    page.locator('tr[data-stack="Website"] .stack-delete').click()
    expect(page.locator("#stack-delete-impact")).to_contain_text("3 members lose every role they hold on Website")
    snap(page, "stack-delete-confirm")
    page.click("#stack-delete-confirm")
    assert "3 members lost the roles" in page.locator(".messagelist").text_content()
    assert not Stack.objects.filter(organization=org).exists()
    assert builders.owner_of(org).role == OrgRole.OWNER
