"""SAML SSO in a real browser against the test IdP served over HTTP on another
site (127.0.0.1 vs localhost), so the IdP's POST to the ACS is cross-site as
with Okta: an Admin goes from the sign-in page through the IdP into
Organization Settings; a Member clicks the IdP's tile and lands on their home."""
from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from organizations.models import AuditEvent
from organizations.signin.saml import services
from tests import builders
from tests.saml_idp import TestIdP
from tests.signin.saml.http_idp import idp_server_for

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sso_world(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    with idp_server_for(org, TestIdP()) as server:
        yield org, server


def test_admin_signs_in_with_sso_from_the_sign_in_page(live_server, browser_page, sso_world):
    org, idp_server = sso_world
    builders.make_provisioned(org, "admin@acme.example", role="admin")
    idp_server.user = "admin@acme.example"
    page = browser_page
    violations = collect_csp_violations(page)

    page.goto(f"{live_server.url}/admin/login/")
    page.click("text=Sign in with SSO")
    page.fill("#id_identifier", "acme")
    page.click("#sso-start-form input[type=submit]")

    page.wait_for_url(f"{live_server.url}/admin/orgs/{org.uid}/settings/")
    assert "Organization Settings: Acme" in page.locator("h1").inner_text()
    assert "admin@acme.example" in page.locator("#user-tools").inner_text().lower()
    # SP-initiated end to end: the IdP's cross-site POST was matched to this
    # browser's AuthnRequest (InResponseTo) through the same-origin re-post.
    event = AuditEvent.objects.get(action="sso.signin")
    assert (event.actor_label, event.after["flow"]) == ("admin@acme.example", "sp")
    # Under the Content-Security-Policy: the start form's redirect to the IdP
    # (form-action) and the bounce page's static auto-submit script ran unblocked.
    assert violations == []


def test_member_signs_in_from_the_idp_tile(live_server, browser_page, sso_world):
    org, idp_server = sso_world
    builders.make_provisioned(org, "member@acme.example")
    idp_server.user = "member@acme.example"
    page = browser_page

    try:
        home = reverse("member_home")
    except NoReverseMatch:  # the member home page is not installed
        home = reverse("saml:signed-in")

    page.goto(f"{idp_server.base_url}/tile")

    page.wait_for_url(f"{live_server.url}{home}")
    assert page.locator("h1").count() == 1
    event = AuditEvent.objects.get(action="sso.signin")
    assert (event.actor_label, event.after["flow"], event.after["role"]) == ("member@acme.example", "idp", "member")


def test_an_existing_account_proves_itself_once_then_the_tile_signs_it_in(live_server, browser_page, sso_world):
    """A member who has a password of their own: the first IdP sign-in asks for it
    (linking), the next one goes straight through."""
    org, idp_server = sso_world
    builders.make_member(org, "pat@acme.example")
    idp_server.user = "pat@acme.example"
    page = browser_page

    page.goto(f"{idp_server.base_url}/tile")
    page.wait_for_url(f"{live_server.url}{reverse('saml:link', args=[org.uid])}")
    assert "Link your account to Acme" in page.locator("h1").inner_text()
    page.fill("#link-password-form input[name=password]", builders.PASSWORD)
    page.click("#link-password-form input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")

    page.click("#signout-form button")
    page.goto(f"{idp_server.base_url}/tile")
    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")
    assert AuditEvent.objects.filter(action="sso.signin").count() == 2


def test_the_owner_keeps_the_break_glass_password_in_strict_mode(live_server, browser_page, sso_world):
    org, _ = sso_world
    services.set_strict(org, True, actor=builders.owner_of(org).user)
    page = browser_page

    builders.sign_in_page(page, live_server.url, "owner@acme.example")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/settings/")
    assert "Organization Settings: Acme" in page.locator("h1").inner_text()


def test_sign_out_also_signs_out_at_the_idp(live_server, browser_page, sso_world):
    """Single logout from the browser: Sign out -> the page that navigates to the
    IdP's SLO URL with a LogoutRequest -> the IdP's LogoutResponse to our SLO
    URL -> the sign-in page; nothing blocked by the Content-Security-Policy."""
    org, idp_server = sso_world
    idp_server.idp.slo_url = idp_server.base_url + "/slo"
    services.import_metadata(org, idp_server.idp.metadata(), actor=builders.owner_of(org).user)
    builders.make_provisioned(org, "member@acme.example")
    idp_server.user = "member@acme.example"
    page = browser_page
    violations = collect_csp_violations(page)

    page.goto(f"{idp_server.base_url}/tile")
    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")
    page.click("#signout-form button")
    page.wait_for_url(f"{live_server.url}{reverse('admin:login')}")

    assert [r["name_id"] for r in idp_server.logout_requests] == ["member@acme.example"]
    assert AuditEvent.objects.filter(action="sso.signout").count() == 1
    assert violations == []
