"""Every member has a way in, as a new user meets it: Okta pushes a
person while "Send invitations to provisioned members" is off; the Owner sees
"No way in yet" on the Members tab, clicks Send invitation, and the e-mailed
link lets the person choose a password and sign in. No CSP violation on the way."""
from __future__ import annotations

import re

import httpx
import pytest
from django.core import mail
from django.urls import reverse

from organizations.models import Membership
from organizations.signin.invitations import set_invite_provisioned_members
from tests import builders

from .csp import collect_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "a-long-new-passphrase-77"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_an_okta_push_without_invitation_gets_a_way_in_from_the_members_tab(live_server, browser_page, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    set_invite_provisioned_members(org, False, actor=None)
    _, token = builders.enable_scim(org)

    # Okta pushes a person (SCIM POST /Users): invitations are off, SSO is not set up.
    pushed = httpx.post(
        f"{live_server.url}/scim/v2/organizations/{org.uid}/Users",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        json={"schemas": [USER_SCHEMA], "userName": "kim@acme.example", "active": True,
              "name": {"givenName": "Kim", "familyName": "Lee"},
              "emails": [{"value": "kim@acme.example", "primary": True}]},
        timeout=15,
    )
    assert pushed.status_code == 201, pushed.text
    assert mail.outbox == []  # nothing was sent: no way in yet

    page = browser_page
    violations = collect_csp_violations(page)
    builders.sign_in_page(page, live_server.url, "owner@acme.example")
    page.goto(live_server.url + reverse("admin:org-settings-members", args=[org.uid]))
    row = page.locator('tr[data-member="kim@acme.example"]')
    assert "No way in yet" in row.locator(".member-signin").inner_text()
    assert "Active" in row.locator(".member-status").inner_text()

    row.locator('.member-invite input[type=submit]').click()
    page.wait_for_load_state()
    assert "An invitation is on its way to kim@acme.example" in page.locator(".messagelist").inner_text()
    row = page.locator('tr[data-member="kim@acme.example"]')
    assert "Invited" in row.locator(".member-signin").inner_text()
    assert "Invited, not joined yet" in row.locator(".member-status").inner_text()

    # The person follows the e-mailed link and chooses a password.
    body = next(m.body for m in reversed(mail.outbox) if m.to == ["kim@acme.example"])
    path = re.search(r"https?://[^/\s]+(/invitations/\S+/)", body).group(1)
    page.context.clear_cookies()
    page.goto(live_server.url + path)
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.click("#invitation-form input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")
    assert "Acme" in page.locator("#content").inner_text()
    assert Membership.objects.get(organization=org, user__email="kim@acme.example").user.check_password(NEW_PASSWORD)

    # Back as the Owner: the Members tab now says the password is set.
    page.context.clear_cookies()
    builders.sign_in_page(page, live_server.url, "owner@acme.example")
    page.goto(live_server.url + reverse("admin:org-settings-members", args=[org.uid]))
    row = page.locator('tr[data-member="kim@acme.example"]')
    assert "Password set" in row.locator(".member-signin").inner_text()
    assert "Active" in row.locator(".member-status").inner_text()
    assert violations == []
