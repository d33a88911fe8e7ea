"""Verified domains in a real browser, under the Content-Security-Policy: the
Owner adds acme.example on the Single Sign-On tab, publishes the TXT record the
page shows (read from the page into the test DNS server), verifies it; then a
person with a password of their own types their work e-mail at "Sign in with
SSO" and is signed in by the IdP without being asked to prove the account."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.signin.domains.models import VerifiedDomain
from organizations.signin.saml.models import SsoIdentity
from tests import builders
from tests.dns_server import DnsServer
from tests.saml_idp import TestIdP
from tests.signin.saml.http_idp import idp_server_for

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    with DnsServer() as dns:
        settings.DNS_RESOLVER = dns.address
        with idp_server_for(org, TestIdP()) as server:
            yield org, server, dns


def test_owner_verifies_a_domain_and_sso_by_email_links_without_proof(live_server, browser_page, world):
    org, idp_server, dns = world
    page = browser_page
    violations = collect_csp_violations(page)

    builders.sign_in_page(page, live_server.url, "owner@acme.example")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}{reverse('admin:org-settings-sso', args=[org.uid])}")
    page.fill("#sso-domain-form input[name=domain]", "ACME.example")
    page.click("#sso-domain-form input[type=submit]")
    page.wait_for_selector("#sso-domain-list")

    row = VerifiedDomain.objects.get(organization=org)
    name = page.input_value(f"#domain-{row.pk}-name")
    value = page.input_value(f"#domain-{row.pk}-value")
    assert (name, value) == ("_orgdesk-challenge.acme.example", row.record_value)
    page.click(f"button[data-copy='domain-{row.pk}-value']")  # the static copy script runs under the policy

    page.click(f"#domain-{row.pk}-verify input[type=submit]")
    page.wait_for_selector(f"#domain-{row.pk}-answer")
    assert "NXDOMAIN" in page.inner_text(f"#domain-{row.pk}-answer")
    dns.set_txt(name, value)
    page.click(f"#domain-{row.pk}-verify input[type=submit]")
    page.wait_for_selector(f"#domain-{row.pk}-state:has-text('Verified')")
    row.refresh_from_db()
    assert row.verified

    # Someone at acme.example with a password of their own, in another browser context.
    member = builders.make_member(org, "pat@acme.example")
    idp_server.user = "pat@acme.example"
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.click("text=Sign in with SSO")
    page.fill("#id_identifier", "pat@acme.example")
    page.click("#sso-start-form input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")
    identity = SsoIdentity.objects.get()
    assert (identity.membership_id, identity.linked_by) == (member.pk, "domain")
    assert violations == []
