""""Sign in with SSO" by e-mail is no oracle: every address gets the same page,
and only a member of an org with SSO enabled gets an e-mail listing those orgs'
sign-in links (sent by a task after the response); requests are throttled per
address and per e-mail alike for every address."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations.signin.saml import config, services
from tests import builders

pytestmark = pytest.mark.django_db

START = "saml:start"


def visible_text(response) -> str:
    """The page as a person reads it: no tags, no CSRF token."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


def sso_enabled_org(name: str, signin_name: str, idp, *, enable: bool = True):
    org = builders.make_org(name, owner_email=f"owner@{signin_name}.example")
    owner = builders.owner_of(org).user
    services.create_settings(org, actor=owner, signin_name=signin_name)
    services.import_metadata(org, idp.metadata(), actor=owner)
    if enable:
        services.enable_sso(org, actor=owner)
    return org


def ask(client, identifier: str, address: str = "192.0.2.10"):
    return client.post(reverse(START), {"identifier": identifier}, REMOTE_ADDR=address)


def test_a_member_and_an_unknown_address_get_the_same_page(client, sso_org):
    builders.make_member(sso_org, "member@acme.example")
    member = ask(client, "member@acme.example")
    unknown = ask(client, "nobody@acme.example")
    assert member.status_code == unknown.status_code == 200
    text = visible_text(member)
    assert ("If member@acme.example belongs to an organization that signs in with single sign-on, "
            "we have e-mailed it a sign-in link.") in text
    assert text.replace("member@acme.example", "X") == visible_text(unknown).replace("nobody@acme.example", "X")
    assert "Acme" not in text and sso_org.uid not in member.content.decode()


def test_only_the_member_is_e_mailed_the_links_of_orgs_with_sso_enabled_where_they_are_active(
    client, sso_org, idp, mailoutbox
):
    from scim.provisioning import set_membership_active

    builders.make_member(sso_org, "pat@example.com")
    globex = sso_enabled_org("Globex", "globex", idp)
    builders.make_member(globex, "pat@example.com")
    gone = sso_enabled_org("Initech", "initech", idp)
    set_membership_active(builders.make_member(gone, "pat@example.com"), False, actor=None)
    not_enabled = sso_enabled_org("Hooli", "hooli", idp, enable=False)
    builders.make_member(not_enabled, "pat@example.com")
    builders.make_member(builders.make_org("Umbrella"), "pat@example.com")  # no SSO at all
    asked = sso_enabled_org("Soylent", "soylent", idp)
    from organizations import services as org_services

    assert org_services.add_member(asked, "pat@example.com", actor=None).pending  # asked to join, not joined

    ask(client, "nobody@example.com")
    assert mailoutbox == []
    ask(client, "PAT@example.com")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["pat@example.com"]
    assert f"Acme: {config.sp_urls(sso_org).login_url}" in message.body
    assert f"Globex: {config.sp_urls(globex).login_url}" in message.body
    for absent in ("Initech", "Hooli", "Umbrella", "Soylent", gone.uid, not_enabled.uid, asked.uid):
        assert absent not in message.body


def test_no_e_mail_for_an_account_with_no_org_using_sso(client, org, owner, mailoutbox):
    assert ask(client, owner.user.email).status_code == 200
    assert mailoutbox == []


def test_requests_are_throttled_per_address_alike_for_every_address(client, sso_org, settings, mailoutbox):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 100
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 3
    builders.make_member(sso_org, "member@acme.example")
    for n in range(3):
        assert ask(client, f"someone{n}@acme.example", address="192.0.2.66").status_code == 200
    refused = [ask(client, email, address="192.0.2.66") for email in ("member@acme.example", "nobody@acme.example")]
    assert [r.status_code for r in refused] == [429, 429]
    assert all("Too many requests from here" in visible_text(r) for r in refused)
    assert mailoutbox == []
    assert visible_text(refused[0]) == visible_text(refused[1])
    # the sign-in name path is refused too, and another address is not affected
    assert ask(client, "acme", address="192.0.2.66").status_code == 429
    assert ask(client, "member@acme.example", address="192.0.2.67").status_code == 200
    assert len(mailoutbox) == 1


def test_requests_are_throttled_per_e_mail(client, sso_org, settings, mailoutbox):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 100
    builders.make_member(sso_org, "member@acme.example")
    for n in range(2):
        assert ask(client, "member@acme.example", address=f"192.0.2.{n + 1}").status_code == 200
    assert ask(client, "member@acme.example", address="192.0.2.9").status_code == 429
    assert len(mailoutbox) == 2


def test_unknown_sign_in_names_count_against_the_address(client, sso_org, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        assert ask(client, f"guess{n}", address="192.0.2.77").status_code == 400
    assert ask(client, "acme", address="192.0.2.77").status_code == 429
    assert ask(client, "acme", address="192.0.2.78").status_code == 302
