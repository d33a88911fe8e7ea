"""An Owner uses the admin in a real browser: log in by e-mail, open
Organization Settings, add a stack from the Stacks tab."""
from __future__ import annotations

import pytest

from organizations.models import Stack
from tests import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_logs_in_and_adds_a_stack_from_organization_settings(live_server, browser_page):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    page = browser_page

    builders.sign_in_page(page, live_server.url, "Owner@Acme.example")

    page.click("#org-settings-list a:text('Acme')")
    assert page.url.endswith(f"/admin/orgs/{org.uid}/settings/")
    tabs = page.locator(".org-tabs a").all_inner_texts()
    assert tabs == ["General", "Members", "Stacks", "SCIM", "Single Sign-On", "Audit log"]

    page.click(".org-tabs a:text('Stacks')")
    page.fill("#id_create-stack-name", "Website")
    page.click("#create-stack-form input[type=submit]")

    page.wait_for_url(f"{live_server.url}/admin/orgs/{org.uid}/settings/stacks/")
    assert 'Stack "Website" was created.' in page.locator(".messagelist").inner_text()
    assert "Website" in page.locator("#stacks tbody").inner_text()
    assert list(Stack.objects.filter(organization=org).values_list("name", flat=True)) == ["Website"]
