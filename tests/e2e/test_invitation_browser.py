"""Invitations in a real browser: a new person follows the e-mailed link,
chooses a password and lands on their home page; a person whose account exists
already (another org's member) is asked to join, has no access until they
accept, then opens the org with their own password."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from organizations.models import Membership
from organizations.signin import invitations
from tests import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "a-long-new-passphrase-77"


def _link(email: str, live_server) -> str:
    body = next(m.body for m in reversed(mail.outbox) if m.to == [email])
    path = re.search(r"https?://[^/\s]+(/invitations/\S+/)", body).group(1)
    return live_server.url + path


def test_a_new_person_accepts_an_invitation_and_lands_home(live_server, browser_page, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme")
    invitations.invite_member(org, "new@acme.example", actor=builders.owner_of(org).user)
    page = browser_page

    page.goto(_link("new@acme.example", live_server))
    assert "Join Acme" in page.locator("h1").inner_text()
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.click("#invitation-form input[type=submit]")

    page.wait_for_url(f"{live_server.url}{reverse('member_home')}")
    assert "Acme" in page.locator("#content").inner_text()


def test_an_existing_account_joins_only_by_accepting(live_server, browser_page, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    acme = builders.make_org("Acme")
    globex = builders.make_org("Globex")
    person = builders.make_member(globex, "pat@globex.example")
    invitations.invite_member(acme, "pat@globex.example", role="admin", actor=builders.owner_of(acme).user)
    page = browser_page

    builders.sign_in_page(page, live_server.url, "pat@globex.example")
    page.goto(f"{live_server.url}{reverse('admin:org-settings', args=[acme.uid])}")
    assert page.url != f"{live_server.url}{reverse('admin:org-settings', args=[acme.uid])}"  # pending: no access
    assert Membership.objects.get(organization=acme, user=person.user).pending

    page.goto(_link("pat@globex.example", live_server))
    page.click("#invitation-form input[type=submit]")  # "Join Acme"
    page.wait_for_load_state()
    assert not Membership.objects.get(organization=acme, user=person.user).pending
    page.goto(f"{live_server.url}{reverse('admin:org-settings', args=[acme.uid])}")
    assert "Organization Settings: Acme" in page.locator("h1").inner_text()
