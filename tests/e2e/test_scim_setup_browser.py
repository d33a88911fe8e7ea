"""Steps 1-2 of the workflow, walked in a real browser as a person would: enable
SCIM, install Okta Generic SCIM from the Marketplace, read the SCIM URL and the
Secret Token off the page; then prove with plain HTTP that the token works only
for its own org, that regenerating replaces it and uninstalling kills it. The
walk runs under the Content-Security-Policy: the page scripts (marketplace
filtering, copy buttons) work and the browser reports no violation."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests import builders

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def marketplace_catalog(transactional_db):
    """Transactional tests flush every table after them, so a later test would
    find an empty Marketplace: ensure the catalog again (idempotent). Not
    serialized_rollback: that clashes with the content types post_migrate
    re-creates after other tests' flushes."""
    from scim.catalog import ensure_catalog

    ensure_catalog()


def scim_status(url: str, token: str) -> int:
    response = httpx.get(f"{url}/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return response.status_code


def open_scim_tab(page, org_name: str) -> None:
    page.click(f"#org-settings-list >> text={org_name}")
    page.get_by_role("tab", name="SCIM").click()


def enable_scim(page) -> None:
    page.get_by_role("link", name="Enable SCIM").click()
    assert page.locator("h1").inner_text() == "Enable SCIM"
    page.get_by_role("button", name="Enable", exact=True).click()
    assert "SCIM is enabled" in page.locator("#scim-state").inner_text()


def install_okta(page) -> tuple[str, str]:
    page.get_by_role("link", name="Marketplace › Apps").click()
    # The cards are filtered by the page's script on input: the assertions wait for it.
    page.fill("#app-search", "no such app anywhere")
    expect(page.locator("#app-cards .scim-card:visible")).to_have_count(0)
    expect(page.locator("#no-apps")).to_be_visible()
    page.fill("#app-search", "Okta")
    expect(page.locator("#no-apps")).to_be_hidden()
    expect(page.locator("#app-cards .scim-card:visible")).to_have_count(1)  # typing narrowed the cards
    page.get_by_role("link", name="Okta Generic SCIM").click()
    page.get_by_role("link", name="Install App").click()
    page.get_by_role("button", name="Authorize & Install").click()
    assert "shown only this once" in page.locator("#token-warning").inner_text()
    return page.input_value("#scim-url"), page.input_value("#secret-token")


def test_owner_enables_scim_installs_okta_and_the_token_lifecycle_holds(
    browser_page, live_server, settings, org, other_org, owner
):
    settings.PUBLIC_BASE_URL = live_server.url
    page = browser_page
    violations = collect_csp_violations(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    signin = page.goto(f"{live_server.url}/admin/login/")
    assert "script-src 'self'" in [d.strip() for d in signin.headers["content-security-policy"].split(";")]
    builders.sign_in_page(page, live_server.url, owner.user.email)
    open_scim_tab(page, org.name)
    enable_scim(page)

    scim_url, token = install_okta(page)

    assert scim_url == f"{live_server.url}/scim/v2/organizations/{org.uid}"
    assert token.startswith("odk_")
    # The copy button (organizations/static/orgdesk/copy_buttons.js) copies the token.
    copy = page.locator('button[data-copy="secret-token"]')
    copy.click()
    expect(copy).to_have_text("Copied")  # once the clipboard write resolved
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert scim_status(scim_url, token) == 200
    # Org A's token on org B's URL is refused, even with SCIM on for org B.
    other_org.scim_enabled = True
    other_org.save(update_fields=["scim_enabled"])
    assert scim_status(f"{live_server.url}/scim/v2/organizations/{other_org.uid}", token) == 401

    # Regenerate: the old token dies at once, the new one is shown once and works.
    page.click("#done")
    prefix_shown = page.locator("#token-prefix").inner_text()
    assert token.split("_")[1] in prefix_shown and token not in page.content()
    page.get_by_role("link", name="Regenerate token").click()
    page.get_by_role("button", name="Regenerate token").click()
    new_token = page.input_value("#secret-token")
    assert new_token != token
    assert scim_status(scim_url, token) == 401
    assert scim_status(scim_url, new_token) == 200
    # The token page is a GET (Post/Redirect/Get): a reload re-posts nothing and
    # shows the token no more, saying so; the token still works.
    assert page.url.endswith("/token/")
    page.reload()
    assert "no longer shown" in page.locator("#token-gone").inner_text()
    assert new_token not in page.content()
    assert scim_status(scim_url, new_token) == 200
    page.click("#to-installation")

    # Disable SCIM: refused (401) while off, nothing lost; enabling again resumes.
    installation_url = page.url
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/scim/")
    page.get_by_role("link", name="Disable SCIM").click()
    page.get_by_role("button", name="Disable", exact=True).click()
    assert "SCIM is disabled" in page.locator("#scim-state").inner_text()
    assert scim_status(scim_url, new_token) == 401
    enable_scim(page)
    assert scim_status(scim_url, new_token) == 200

    # Uninstall: every token of the installation stops working.
    page.goto(installation_url)
    page.get_by_role("link", name="Uninstall").click()
    page.get_by_role("button", name="Uninstall").click()
    assert "Uninstalled" in page.locator("#installation-status").inner_text()
    assert scim_status(scim_url, new_token) == 401
    assert violations == []


def test_admin_can_do_the_same(browser_page, live_server, settings, org, admin_member):
    settings.PUBLIC_BASE_URL = live_server.url
    page = browser_page
    builders.sign_in_page(page, live_server.url, admin_member.user.email)
    open_scim_tab(page, org.name)
    enable_scim(page)

    scim_url, token = install_okta(page)

    assert scim_url == f"{live_server.url}/scim/v2/organizations/{org.uid}"
    assert scim_status(scim_url, token) == 200


def test_member_cannot_open_the_scim_tab(browser_page, live_server, org, other_org):
    # A Member of this org who administers another org can log in, but this org's SCIM tab is a 404.
    member = builders.make_member(org, "member-and-admin@example.com")
    builders.make_member(other_org, "member-and-admin@example.com", role="admin")
    page = browser_page
    builders.sign_in_page(page, live_server.url, member.user.email)

    response = page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/scim/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/admin/orgs/{org.uid}/marketplace/apps/")
    assert response.status == 404
    org.refresh_from_db()
    assert not org.scim_enabled


def test_plain_member_cannot_log_in_to_settings(browser_page, live_server, org, plain_member):
    page = browser_page
    builders.sign_in_page(page, live_server.url, plain_member.user.email)
    page.wait_for_url(f"{live_server.url}/home/")  # a Member's home, not the admin
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/scim/")
    page.wait_for_url(f"{live_server.url}/home/")
    assert "SCIM provisioning" not in page.content()
