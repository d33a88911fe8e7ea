"""Single logout over real HTTP with the stand-in IdP: Sign out of a session
the org's IdP signed in also signs out at the IdP (a LogoutRequest naming the
NameID and SessionIndex, signed when request signing is on); a signed
IdP-initiated LogoutRequest ends that person's sessions for that org, and an
unsigned or forged one ends nothing."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import AuditEvent
from organizations.signin import sessions
from organizations.signin.saml import config, services
from organizations.signin.saml.models import SsoSession, SsoSettings
from tests import builders
from tests.saml_idp import TestIdP, logout_request_xml, redirect_message

from .conftest import post_acs
from .http_idp import http_get, idp_server_for, posted_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    idp = TestIdP()
    with idp_server_for(org, idp, slo=True) as server:
        yield org, idp, server


def _sign_in(client, org, server, email: str) -> None:
    server.user = email
    to_idp = client.get(reverse("saml:login", args=[org.uid]))
    status, body, _ = http_get(to_idp["Location"])
    assert status == 200
    form = posted_form(body)
    assert post_acs(client, org, form["SAMLResponse"], form.get("RelayState", "")).status_code == 302


def _slo_link(response) -> str:
    import re
    from html import unescape

    return unescape(re.search(r'id="saml-slo-continue" href="([^"]+)"', response.content.decode()).group(1))


def test_the_idp_learns_the_slo_url_from_its_metadata(world):
    org, idp, server = world
    assert SsoSettings.objects.get(organization=org).idp_slo_url == server.base_url + "/slo"
    metadata = Client().get(reverse("saml:metadata", args=[org.uid])).content.decode()
    assert "SingleLogoutService" in metadata and config.sp_urls(org).slo_url in metadata


@pytest.mark.parametrize("signed", [False, True])
def test_sign_out_also_signs_out_at_the_idp(client, world, signed):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    if signed:
        owner = builders.owner_of(org).user
        sso = services.set_security_options(org, sign_authn_requests=True, want_assertions_encrypted=False, actor=owner)
        server.sp_cert = sso.sp_x509_cert
    _sign_in(client, org, server, member.user.email)
    row = SsoSession.objects.get(organization=org, user=member.user)
    assert row.session_key == client.session.session_key and row.session_index

    page = client.post(reverse("signout"))
    assert page.status_code == 200 and client.session.get("_auth_user_id") is None
    link = _slo_link(page)
    assert link.startswith(server.base_url + "/slo?SAMLRequest=")
    assert ("Signature=" in link) is signed
    status, _, headers = http_get(link)
    assert status == 302
    assert server.logout_requests[-1] == {"name_id": member.user.email, "session_index": row.session_index,
                                          "verified": signed}
    back = client.get(headers["Location"].removeprefix(config.settings.PUBLIC_BASE_URL))
    assert back.status_code == 302 and back["Location"] == reverse("admin:login")
    assert not SsoSession.objects.filter(session_key=row.session_key).exists()
    assert AuditEvent.objects.get(action="sso.signout").after["name_id"] == member.user.email


def test_sign_out_stays_local_without_an_slo_url(client, world):
    org, idp, server = world
    SsoSettings.objects.filter(organization=org).update(idp_slo_url="")
    member = builders.make_provisioned(org, "member@acme.example")
    _sign_in(client, org, server, member.user.email)
    response = client.post(reverse("signout"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:login")
    assert server.logout_requests == []


def _idp_logout_url(org, idp, name_id: str, *, key: str | None, session_index: str = "") -> str:
    slo = config.sp_urls(org).slo_url
    xml = logout_request_xml(idp, destination=slo, name_id=name_id, session_index=session_index)
    return redirect_message(slo, "SAMLRequest", xml, key).removeprefix(config.settings.PUBLIC_BASE_URL)


def _alive(client) -> bool:
    return client.session.get("_auth_user_id") is not None


def test_an_idp_logout_request_ends_that_orgs_sessions(world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    other = builders.make_provisioned(org, "other@acme.example")
    laptop, phone, bystander = Client(), Client(), Client()
    _sign_in(laptop, org, server, member.user.email)
    _sign_in(phone, org, server, member.user.email)
    _sign_in(bystander, org, server, other.user.email)
    settings_url = reverse("admin:org-settings", args=[org.uid])

    idp_browser = Client()
    response = idp_browser.get(_idp_logout_url(org, idp, "Member@acme.example", key=idp.key_pem))
    assert response.status_code == 302 and response["Location"].startswith(server.base_url + "/slo?SAMLResponse=")
    assert not _alive(laptop) and not _alive(phone) and _alive(bystander)
    assert laptop.get(settings_url).status_code == 302
    event = AuditEvent.objects.get(action="sso.idp_logout")
    assert (event.after["name_id"], event.after["sessions"]) == ("Member@acme.example", 2)
    assert not SsoSession.objects.filter(user=member.user).exists()


def test_a_logout_request_in_the_same_browser_and_by_session_index(client, world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    phone = Client()
    _sign_in(client, org, server, member.user.email)
    _sign_in(phone, org, server, member.user.email)
    index = SsoSession.objects.get(session_key=client.session.session_key).session_index
    response = client.get(_idp_logout_url(org, idp, member.user.email, key=idp.key_pem, session_index=index))
    assert response.status_code == 302
    assert not _alive(client) and _alive(phone)  # only the named IdP session


def test_a_password_session_keeps_its_password_orgs(world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    browser = Client()
    _sign_in(browser, org, server, member.user.email)
    session = browser.session
    state = sessions.SignInState.of(type("R", (), {"session": session})())
    state.password = True
    session[sessions.AUTH_KEY] = {"user": state.user_id, "password": True,
                                  "sso": {str(k): v for k, v in state.sso.items()}}
    session.save()
    Client().get(_idp_logout_url(org, idp, member.user.email, key=idp.key_pem))
    raw = browser.session.get(sessions.AUTH_KEY)
    assert raw["password"] is True and raw["sso"] == {}


@pytest.mark.parametrize("key", [None, "forged"])
def test_an_unsigned_or_forged_logout_request_ends_nothing(world, key):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    browser = Client()
    _sign_in(browser, org, server, member.user.email)
    signer = TestIdP().key_pem if key == "forged" else None
    response = Client().get(_idp_logout_url(org, idp, member.user.email, key=signer))
    assert response.status_code == 400
    assert _alive(browser) and SsoSession.objects.filter(user=member.user).exists()
    reason = AuditEvent.objects.get(action="sso.logout_refused").after["reason"]
    assert reason == ("unsigned" if key is None else "invalid")


def test_another_orgs_idp_cannot_log_out_this_orgs_sessions(world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    browser = Client()
    _sign_in(browser, org, server, member.user.email)
    evil_org = builders.make_org("Evil", owner_email="owner@evil.example")
    evil_idp = TestIdP(entity_id="http://evil.example.test/saml", slo_url="https://evil.example.test/slo")
    from .conftest import enable_sso_for

    enable_sso_for(evil_org, evil_idp, "evil")
    response = Client().get(_idp_logout_url(evil_org, evil_idp, member.user.email, key=evil_idp.key_pem))
    assert response.status_code == 302  # a valid request to the evil org: it ends nothing of Acme's
    assert _alive(browser)
    assert AuditEvent.objects.get(action="sso.idp_logout").after["sessions"] == 0
