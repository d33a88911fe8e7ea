"""Organization Settings is the one place to run an org, walked in a real browser
as the Owner, an Admin and a Member: every tab, the danger confirmations, the
audit log's sentences, the raw model admin refused, and long names (200
characters without a space) never stretching a page. Every step saves a
screenshot (ORGDESK_SCREENSHOTS=<dir>) and asserts by visible text."""
from __future__ import annotations

import re

import httpx
import pytest

from mappings.services import save_mapping
from organizations.models import OrgRole, Stack
from scim import provisioning
from scim.installations import enable_scim, install_app
from scim.models import MarketplaceApp
from tests import builders
from tests.e2e.test_members_browser import snap
from tests.builders import builtin, ensure_builtin_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "Acme" + "x" * 196  # 200 characters, no place to break
TABS = ["General", "Members", "Stacks", "SCIM", "Single Sign-On", "Audit log"]
DATETIME = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC")


def log_in(page, live_server, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", builders.PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")


def fits(page) -> None:
    """Nothing on the page is wider than the window (a long name would stretch it),
    measured once the stylesheets have loaded."""
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        snap(page, "overflow")
    widest = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(-5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window: {widest}"


def step(page, name: str) -> None:
    fits(page)
    snap(page, name)


def open_tab(page, label: str) -> None:
    from playwright.sync_api import expect

    with page.expect_navigation():
        page.get_by_role("tab", name=label).click()
    expect(page.get_by_role("tab", name=label)).to_have_attribute("aria-selected", "true")


def world():
    ensure_builtin_roles()
    org = builders.make_org(LONG, owner_email="owner@acme.example")
    admin = builders.make_member(org, "ada@acme.example", role=OrgRole.ADMIN)
    member = builders.make_member(org, "jane@acme.example")
    stack = builders.make_stack(org, "Web" + "w" * 197)
    enable_scim(org, actor=None)
    installation, _ = install_app(org, MarketplaceApp.objects.get(slug="okta-generic-scim"), actor=None)
    group = provisioning.create_group(org, "Eng" + "g" * 197, member_ids=[member.pk], actor=installation)
    save_mapping(org, group, org_role=OrgRole.MEMBER, stack_roles={stack: builtin("Developer")},
                 all_stacks_role=None, actor=admin.user)
    return org, admin, member, stack, installation


def test_owner_admin_and_member_walk_organization_settings(browser_page, live_server):
    from playwright.sync_api import expect

    org, admin, member, stack, installation = world()
    page = browser_page
    base = live_server.url
    settings = f"{base}/admin/orgs/{org.uid}/settings/"

    # --- the Owner --------------------------------------------------------------------------
    log_in(page, live_server, "owner@acme.example")
    expect(page.locator("#org-settings-list")).to_contain_text("Your organizations")
    expect(page.locator("#org-settings-list")).to_contain_text(LONG)
    expect(page.locator("#content")).not_to_contain_text("Memberships")
    expect(page.locator("#content")).not_to_contain_text("Recent actions")
    step(page, "walk-owner-01-home")

    page.get_by_role("link", name="Organization Settings").first.click()
    expect(page.locator("h1")).to_contain_text(f"Organization Settings: {LONG}")
    assert page.get_by_role("tab").all_inner_texts() == TABS
    expect(page.locator("#org-general")).to_contain_text("Organization ID")
    assert DATETIME.search(page.locator("#org-general").inner_text())
    step(page, "walk-owner-02-general")

    open_tab(page, "Members")
    expect(page.locator("#members")).to_contain_text("jane@acme.example")
    step(page, "walk-owner-03-members")
    page.locator('tr[data-member="jane@acme.example"]').get_by_role("link", name="Why?").click()
    expect(page.locator("#member-access")).to_contain_text("Access of jane@acme.example")
    expect(page.locator("#stack-roles")).to_contain_text("SCIM group Eng")
    step(page, "walk-owner-04-why")
    page.get_by_role("link", name="‹ Members").click()
    expect(page.get_by_role("tab", name="Members")).to_have_attribute("aria-selected", "true")
    page.get_by_role("link", name="jane@acme.example").click()
    expect(page.locator("#member-detail")).to_contain_text("Stack roles")
    step(page, "walk-owner-05-member")
    page.get_by_role("link", name="‹ Members").click()
    expect(page.locator("#members")).to_contain_text("ada@acme.example")

    open_tab(page, "Stacks")
    expect(page.locator("#stacks")).to_contain_text(stack.name)
    step(page, "walk-owner-06-stacks")
    page.locator("#stacks").get_by_role("link", name="Rename").click()
    expect(page.locator("#stack-rename")).to_contain_text("Rename the stack Web")
    step(page, "walk-owner-06b-stack-rename")
    page.get_by_role("link", name="Cancel").click()
    page.locator("#stacks").get_by_role("link", name="Delete").click()
    expect(page.locator("#stack-confirm-delete")).to_contain_text("1 member loses every role")
    expect(page.get_by_role("button", name="Delete stack")).to_be_visible()
    step(page, "walk-owner-07-stack-delete-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#stacks")).to_contain_text(stack.name)
    assert Stack.objects.filter(pk=stack.pk).exists()

    open_tab(page, "SCIM")
    expect(page.locator("#scim-state")).to_contain_text("SCIM is enabled")
    expect(page.locator("#scim-installations")).to_contain_text("Okta Generic SCIM")
    expect(page.locator("#group-mapping-list")).to_contain_text("Eng")
    assert DATETIME.search(page.locator("#scim-installations").inner_text())
    step(page, "walk-owner-08-scim")
    page.locator("#group-mapping-list").get_by_role("link", name="Edit").click()
    expect(page.locator("#group-mapping-form")).to_contain_text("Editing the mapping of Eng")
    step(page, "walk-owner-08b-mapping-edit")  # the long group chosen in the picker, long stack labels
    page.locator("#group-mapping-list").get_by_role("link", name="Remove").click()
    expect(page.get_by_role("button", name="Remove mapping")).to_be_visible()
    step(page, "walk-owner-09-mapping-remove-confirm")
    page.get_by_role("link", name="Cancel").click()
    page.locator("#scim-installations").get_by_role("link", name="Manage").click()
    expect(page.locator("#installation")).to_contain_text("Okta Generic SCIM")
    assert DATETIME.search(page.locator("#installation").inner_text())
    step(page, "walk-owner-10-installation")
    page.get_by_role("link", name="Uninstall").click()
    expect(page.get_by_role("button", name="Uninstall")).to_be_visible()
    step(page, "walk-owner-11-uninstall-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#installation-status")).to_contain_text("Installed")

    page.get_by_role("link", name="Back to the SCIM tab").click()
    page.get_by_role("link", name="Marketplace › Apps").click()
    expect(page.locator("#app-cards")).to_contain_text("Okta Generic SCIM")
    step(page, "walk-owner-11b-marketplace")
    page.locator("#app-cards").get_by_role("link", name="Okta Generic SCIM").click()
    expect(page.locator("#app-detail")).to_contain_text("Installed")
    step(page, "walk-owner-11c-marketplace-app")

    page.goto(f"{settings}sso/")
    expect(page.locator("#sso-status")).to_contain_text("Single Sign-On")
    step(page, "walk-owner-12-sso")

    open_tab(page, "Audit log")
    log = page.locator("#audit-log")
    expect(log).to_contain_text("ada@acme.example mapped the SCIM group Eng")
    expect(log).to_contain_text(f"Okta Generic SCIM (installation #{installation.pk}) created the SCIM group Eng")
    expect(log).to_contain_text("Orgdesk enabled SCIM provisioning")
    expect(log).not_to_contain_text("group_mapping.create")
    assert DATETIME.search(log.inner_text())
    step(page, "walk-owner-13-audit")
    page.select_option("#id_kind", "stacks")
    with page.expect_navigation():
        page.click("#audit-filter-submit")
    expect(log).to_contain_text("Orgdesk created the stack Web")
    expect(log).not_to_contain_text("SCIM group")
    step(page, "walk-owner-14-audit-stacks")

    # --- the Owner's actions that other parts of the admin guard (refusals change nothing) ------
    page.goto(f"{settings}members/")
    page.locator("#transfer-ownership-form .select2-selection").click()
    page.locator(".select2-search__field").fill("ada")
    page.locator(".select2-results__option", has_text="ada@acme.example").click()
    page.fill("#id_transfer-ownership-typed_name", "Acme")  # not the org's whole name
    page.click("#transfer-ownership-form input[type=submit]")
    expect(page.locator("#transfer-ownership-form .errorlist")).to_contain_text("Type the organization's name exactly")
    step(page, "walk-owner-15-transfer-refused")
    assert builders.owner_of(org).user.email == "owner@acme.example"

    # An identity provider calling with a token nobody issued: listed under failures.
    refused = httpx.get(f"{base}/scim/v2/organizations/{org.uid}/Users", headers={"Authorization": "Bearer odk_nope_nope"})
    assert refused.status_code == 401
    page.goto(f"{settings}scim/?outcome=failure#provisioning-activity")
    failures = page.locator("#provisioning-activity-table")
    expect(failures).to_contain_text("Failed (401)")
    expect(failures).to_contain_text("Unknown token")
    step(page, "walk-owner-16-unknown-token")

    # Uninstall (red, confirmed): the app stays listed with its history, then comes back.
    page.goto(f"{base}/admin/orgs/{org.uid}/marketplace/installations/{installation.pk}/")
    page.get_by_role("link", name="Uninstall").click()
    page.get_by_role("button", name="Uninstall").click()
    expect(page.locator("#installation-status")).to_contain_text("Uninstalled")
    page.get_by_role("link", name="Back to the SCIM tab").click()
    expect(page.locator("#scim-installations")).to_contain_text("Uninstalled")
    step(page, "walk-owner-17-uninstalled-listed")
    page.locator("#scim-installations").get_by_role("link", name="Reinstall").click()
    page.get_by_role("button", name="Reinstall").click()
    expect(page.locator("#token-warning")).to_contain_text("shown only this once")
    page.goto(f"{settings}audit/?kind=settings")
    log = page.locator("#audit-log")
    expect(log).to_contain_text(f"owner@acme.example reinstalled Okta Generic SCIM (installation #{installation.pk})")
    expect(log).to_contain_text(f"owner@acme.example uninstalled Okta Generic SCIM (installation #{installation.pk})")
    step(page, "walk-owner-18-audit-uninstall-reinstall")

    response = page.goto(f"{base}/admin/organizations/membership/")
    assert response.status == 403
    response = page.goto(f"{base}/admin/organizations/")
    assert response.status == 404

    # --- an Admin ---------------------------------------------------------------------------
    log_in(page, live_server, "ada@acme.example")
    expect(page.locator("#org-settings-list")).to_contain_text(LONG)
    page.get_by_role("link", name="Organization Settings").first.click()
    for index, tab in enumerate(TABS):
        open_tab(page, tab)
        step(page, f"walk-admin-{index + 1:02d}-{tab.lower().replace(' ', '-')}")
    expect(page.locator("#audit-log")).to_contain_text("ada@acme.example mapped the SCIM group Eng")
    open_tab(page, "Single Sign-On")
    expect(page.locator("#sso-readonly")).to_contain_text("Only the Owner")
    assert page.goto(f"{base}/admin/organizations/auditevent/").status == 403

    # --- a Member ---------------------------------------------------------------------------
    log_in(page, live_server, "jane@acme.example")
    assert page.url == f"{base}/home/"
    expect(page.locator("#content")).to_contain_text("Your organizations")
    step(page, "walk-member-01-home")
    page.goto(settings)
    assert page.url == f"{base}/home/"  # no settings for a Member: back to their home
    page.goto(f"{base}/admin/orgs/{org.uid}/settings/audit/")
    assert page.url == f"{base}/home/"
    page.goto(f"{base}/admin/organizations/membership/")
    assert page.url == f"{base}/home/"
    step(page, "walk-member-02-refused")
