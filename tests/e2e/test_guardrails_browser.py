"""Guardrails in a real browser: an Admin about to demote themselves is told what
they lose and cancels; the Owner cannot hand the org to a person the IdP
provisioned who cannot sign in, and hands it to one who can after typing the
org's name. A screenshot per step (ORGDESK_SCREENSHOTS), each asserted by the
text a person reads on it."""
from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from organizations.models import Membership, OrgRole
from tests import builders
from tests.e2e.test_members_browser import snap

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pick(page, form_id: str, typed: str, label: str) -> None:
    """A member picker searches as one types (select2)."""
    page.locator(f"#{form_id} .select2-selection").click()
    page.locator(".select2-search__field").fill(typed)
    page.locator(".select2-results__option", has_text=label).click()


def test_guardrails_on_demoting_oneself_and_transferring_ownership(live_server, browser_page, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    admin = builders.make_member(org, "admin@acme.example", role=OrgRole.ADMIN)
    provisioned = builders.make_member(org, "pat@acme.example")
    provisioned.user.set_unusable_password()
    provisioned.user.save()
    Membership.objects.filter(pk=provisioned.pk).update(scim_managed=True)
    page = browser_page
    members = f"{live_server.url}/admin/orgs/{org.uid}/settings/members/"

    # An Admin about to make themselves a Member is told what they lose, and cancels.
    builders.sign_in_page(page, live_server.url, "admin@acme.example")
    page.goto(f"{live_server.url}/admin/orgs/{org.uid}/members/{admin.pk}/")
    page.select_option("#member-role-form select", "member")
    page.click("#member-role-form input[type=submit]")
    expect(page.locator("#member-confirm h2")).to_have_text("Change your own role in Acme to Member?")
    expect(page.locator("#self-loss")).to_have_text("You will no longer be able to open Organization Settings of Acme.")
    snap(page, "guardrails-1-demote-self-confirm")
    page.click("#member-confirm a:text('Cancel')")
    page.wait_for_url(members)
    expect(page.locator('tr[data-member="admin@acme.example"] .member-role')).to_contain_text("Admin")
    snap(page, "guardrails-2-cancelled")
    admin.refresh_from_db()
    assert admin.role == OrgRole.ADMIN

    # The Owner tries to hand the org to someone who cannot sign in: refused, nothing changes.
    page.context.clear_cookies()
    builders.sign_in_page(page, live_server.url, "owner@acme.example")
    page.goto(members)
    pick(page, "transfer-ownership-form", "pat", "pat@acme.example")
    page.fill("#id_transfer-ownership-typed_name", "Acme")
    page.click("#transfer-ownership-form input[type=submit]")
    expect(page.locator("#transfer-ownership-form .errorlist")).to_contain_text(
        "Ownership can only pass to someone who can sign in. pat@acme.example cannot sign in"
    )
    snap(page, "guardrails-3-transfer-refused")
    assert builders.owner_of(org).user.email == "owner@acme.example"
    assert mail.outbox == []

    # To an Admin who can sign in, after typing the org's name: done, and they are told.
    pick(page, "transfer-ownership-form", "admin", "admin@acme.example")
    page.fill("#id_transfer-ownership-typed_name", "Acme")
    page.click("#transfer-ownership-form input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text(
        "admin@acme.example is now the Owner of Acme and has been told by e-mail; you are now an Admin."
    )
    expect(page.locator('tr[data-member="owner@acme.example"] .member-role')).to_contain_text("Admin")
    snap(page, "guardrails-4-transferred")
    assert builders.owner_of(org).pk == admin.pk
    assert [m.to for m in mail.outbox] == [["admin@acme.example"]]
