"""An IdP admin's failures are shown: after Regenerate token, the old token's
401 appears under Provisioning activity > failures with its reason; an
uninstalled app stays listed with its history and is reinstalled with a new
token. Walked in a real browser by the Owner; the SCIM calls are plain HTTP
against the live server, as Okta would make them."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from scim import installations
from scim.api import constants as c
from scim.models import MarketplaceApp
from tests import builders

from .test_members_browser import snap
from .test_scim_setup_browser import marketplace_catalog  # noqa: F401  (the catalog, re-seeded)

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def scim_get(live_server, org, token: str) -> httpx.Response:
    return httpx.get(
        f"{live_server.url}/scim/v2/organizations/{org.uid}/Users",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_old_tokens_failures_are_shown_and_an_uninstalled_app_is_reinstalled(
    browser_page, live_server, settings, org, owner
):
    settings.PUBLIC_BASE_URL = live_server.url
    installations.enable_scim(org, actor=owner.user)
    okta = MarketplaceApp.objects.get(slug="okta-generic-scim")
    installation, issued = installations.install_app(org, okta, actor=owner.user)
    assert scim_get(live_server, org, issued.secret).status_code == 200
    page = browser_page
    builders.sign_in_page(page, live_server.url, owner.user.email)
    installation_url = f"{live_server.url}/admin/orgs/{org.uid}/marketplace/installations/{installation.pk}/"

    # Regenerate the token: Okta still holds the old one.
    page.goto(installation_url)
    page.get_by_role("link", name="Regenerate token").click()
    page.get_by_role("button", name="Regenerate token").click()
    expect(page.locator("#token-warning")).to_contain_text("shown only this once")
    new_token = page.input_value("#secret-token")
    snap(page, "activity-1-new-token")
    old_call = scim_get(live_server, org, issued.secret)
    assert old_call.status_code == 401 and old_call.json()["detail"] == c.DETAIL_TOKEN_REVOKED
    assert scim_get(live_server, org, new_token).status_code == 200

    # Provisioning activity > failures: the old token's call, its app and why.
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/scim/")
    page.select_option("#id_outcome", "failure")
    with page.expect_navigation():
        page.click("#activity-filter-submit")
    failures = page.locator("#provisioning-activity-table")
    expect(failures).to_contain_text("Failed (401)")
    expect(failures).to_contain_text("Okta Generic SCIM")
    expect(failures).to_contain_text("This token was regenerated or the app was uninstalled")
    snap(page, "activity-2-failures")

    # Uninstall: still listed, greyed, its history a click away; then reinstall.
    page.goto(installation_url)
    page.get_by_role("link", name="Uninstall app").click()
    page.get_by_role("button", name="Uninstall app").click()
    expect(page.locator("#installation-status")).to_contain_text("Uninstalled")
    expect(page.locator("#token-last-used")).not_to_contain_text("never")
    page.get_by_role("link", name="Back to the SCIM tab").click()
    listed = page.locator("#scim-installations")
    expect(listed).to_contain_text("Okta Generic SCIM")
    expect(listed).to_contain_text("Uninstalled")
    snap(page, "activity-3-uninstalled-listed")
    listed.get_by_role("link", name="Reinstall").click()
    page.get_by_role("button", name="Reinstall app").click()
    expect(page.locator("#token-warning")).to_contain_text("shown only this once")
    reinstalled_token = page.input_value("#secret-token")
    snap(page, "activity-4-reinstalled")
    assert scim_get(live_server, org, reinstalled_token).status_code == 200
    assert scim_get(live_server, org, new_token).json()["detail"] == c.DETAIL_TOKEN_REVOKED
    page.click("#done")
    expect(page.locator("#installation-status")).to_contain_text("Installed")
