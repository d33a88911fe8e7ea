"""The invitation walk-through in a real browser: the Owner invites an Admin and a
Member from the Members tab; each follows the link read from a real SMTP
server, sets a password and signs in; the Admin opens Organization Settings >
SCIM, the Member sees only their home page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-fresh-and-long-passphrase-77"


def shot(page, name: str) -> None:
    """Screenshots for a person to look at, when ORGDESK_SCREENSHOTS names a folder."""
    folder = os.environ.get("ORGDESK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def invite(page, base: str, org, email: str, role: str) -> None:
    page.goto(f"{base}/admin/orgs/{org.uid}/settings/members/")
    page.fill("#id_add-member-email", email)
    page.fill("#id_add-member-first_name", email.split("@")[0].title())  # names are asked for
    page.fill("#id_add-member-last_name", "Invited")
    page.select_option("#id_add-member-role", label=role)
    page.click("#add-member-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "An invitation e-mail is on its way" in page.locator(".messagelist").inner_text()
    assert email in page.locator("#pending-invitations").inner_text()


def accept(page, link: str) -> None:
    page.goto(link)
    assert "Choose a password" in page.locator("#invitation-accept").inner_text()
    page.fill("#id_new_password1", PASSWORD)
    page.fill("#id_new_password2", PASSWORD)
    page.click("#invitation-form input[type=submit]")


def sign_out(page) -> None:
    page.click("#logout-form button, #signout-form button")


def test_owner_invites_an_admin_and_a_member_who_sign_in(live_server, browser_page, smtp_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    base, page = live_server.url, browser_page

    builders.sign_in_page(page, base, "owner@acme.example", builders.PASSWORD)
    invite(page, base, org, "ada@acme.example", "Admin")
    shot(page, "1-members-tab-pending")
    invite(page, base, org, "max@acme.example", "Member")
    sign_out(page)

    # The Admin: link from the SMTP server, password, then a fresh sign-in.
    accept(page, smtp_server.link("ada@acme.example"))
    page.wait_for_url(f"{base}/admin/orgs/{org.uid}/settings/")
    sign_out(page)
    builders.sign_in_page(page, base, "ada@acme.example", PASSWORD)
    page.click("#org-settings-list a:text('Acme')")
    page.click(".org-tabs a:text('SCIM')")
    page.wait_for_url(f"{base}/admin/orgs/{org.uid}/settings/scim/")
    assert "SCIM provisioning" in page.locator("#scim-status").inner_text()
    shot(page, "2-admin-scim-tab")
    sign_out(page)

    # The Member: the same, and only the home page.
    accept(page, smtp_server.link("max@acme.example"))
    page.wait_for_url(f"{base}/home/")
    sign_out(page)
    builders.sign_in_page(page, base, "max@acme.example", PASSWORD)
    page.wait_for_url(f"{base}/home/")
    assert "Acme" in page.locator("#home-orgs").inner_text()
    assert "Member" in page.locator("#home-orgs").inner_text()
    shot(page, "3-member-home")
    page.goto(f"{base}/admin/orgs/{org.uid}/settings/")
    page.wait_for_url(f"{base}/home/")  # the admin is closed to a Member: back home
    assert page.locator("#org-settings-list").count() == 0
