"""Identity stays inside its tenant, tried as an attacker would, over real HTTP
against the live server with the stand-in IdP (tests/saml_idp.py) signing with
its own key. Each test is an attack that opened a session on d5ef418.

- Another org's IdP cannot sign in (or attach) an account it does not own:
  pushed over SCIM, invited by hand or created just in time; the victim being a
  plain Owner, the Owner of a Strict-mode org, or an operator.
- An Admin holding a SCIM token cannot re-point the org's IdP at the Owner by
  renaming SCIM userNames.
- An assertion that answered another browser's AuthnRequest cannot be
  re-wrapped as an IdP-initiated response.
- A session one org's IdP made opens that org only; a DRF token of a person
  Strict mode sends through the IdP gets 403 JSON, never a redirect."""
from __future__ import annotations

import re

import httpx
import pytest
from django.urls import reverse

from organizations import services as org_services
from organizations.models import Membership, OrgRole, User
from organizations.signin import invitations
from organizations.signin.saml import config, services as sso_services
from tests import builders
from tests.saml_idp import TestIdP, authn_request
from tests.scim.api.helpers import PATCH_SCHEMA, USER_SCHEMA

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BOUNCE_FIELD = "orgdesk_bounced"


class Browser:
    """A cookie-keeping HTTP client, redirects not followed (each hop is asserted)."""

    def __init__(self, base_url: str) -> None:
        # Connection: close: no keep-alive request thread outlives the test (the
        # live server's database connection is shared only while the test runs).
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=20, headers={"Connection": "close"})

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> httpx.Response:
        return self.http.post(path, data=data, **kwargs)

    def csrf_post(self, form_path: str, data: dict, action: str | None = None) -> httpx.Response:
        page = self.get(form_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.post(action or form_path, {**data, "csrfmiddlewaretoken": token}, headers={"Referer": str(page.url)})

    def post_acs(self, org, saml_response: str) -> httpx.Response:
        """As a browser does: the IdP's cross-site POST, then the same-origin re-post."""
        path = reverse("saml:acs", args=[org.uid])
        response = self.post(path, {"SAMLResponse": saml_response})
        if response.status_code == 200 and 'id="saml-bounce"' in response.text:
            response = self.post(path, {"SAMLResponse": saml_response, BOUNCE_FIELD: "1"})
        return response

    def signed_in_user(self) -> User | None:
        """Whose session this browser holds, read from the server's session store."""
        from importlib import import_module

        from django.conf import settings

        key = self.http.cookies.get(settings.SESSION_COOKIE_NAME)
        if not key:
            return None
        user_id = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).get("_auth_user_id")
        return User.objects.filter(pk=user_id).first() if user_id else None

    def settings_status(self, org) -> int:
        return self.get(reverse("admin:org-settings", args=[org.uid])).status_code


def with_sso(org, idp: TestIdP, name: str, *, strict: bool = False):
    owner = builders.owner_of(org).user
    sso_services.create_settings(org, actor=owner, signin_name=name)
    sso_services.import_metadata(org, idp.metadata(), actor=owner)
    sso_services.enable_sso(org, actor=owner)
    if strict:
        sso_services.set_strict(org, True, actor=owner)
    org.refresh_from_db()
    return org


@pytest.fixture
def world(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    acme = builders.make_org("Acme", owner_email="owner@acme.example")
    evil = builders.make_org("Evil Inc", owner_email="mallory@evil.example")
    evil_idp = TestIdP("http://evil.example/saml", "http://evil.example/sso")
    with_sso(evil, evil_idp, "evil")
    return live_server, acme, evil, evil_idp


def _attach(path: str, evil, email: str, live_server) -> None:
    """Mallory makes `email` a member of Evil Inc, by one of three paths."""
    mallory = builders.owner_of(evil).user
    if path == "scim":
        _, token = builders.enable_scim(evil)
        body = {"schemas": [USER_SCHEMA], "userName": email, "emails": [{"value": email, "primary": True}], "active": True}
        response = httpx.post(
            f"{live_server.url}/scim/v2/organizations/{evil.uid}/Users", json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        )
        assert response.status_code == 201, response.text  # Okta sees the resource as usual
        assert response.json()["active"] is True
    elif path == "invitation":
        invitations.invite_member(evil, email, role=OrgRole.MEMBER, actor=mallory)
    else:  # just in time, at the assertion itself
        sso_services.set_jit_provisioning(evil, True, actor=mallory)


@pytest.mark.parametrize("path", ["scim", "invitation", "jit"])
@pytest.mark.parametrize("victim", ["owner", "strict_owner", "operator"])
def test_another_orgs_idp_cannot_sign_in_an_account_it_does_not_own(world, path, victim, mailoutbox):
    live_server, acme, evil, evil_idp = world
    email = "owner@acme.example"
    if victim == "strict_owner":
        with_sso(acme, TestIdP("http://acme.example/saml", "http://acme.example/sso"), "acme", strict=True)
    elif victim == "operator":
        email = "operator@orgdesk.example"
        User.objects.create_superuser(email, builders.PASSWORD)
    _attach(path, evil, email, live_server)

    browser = Browser(live_server.url)
    response = browser.post_acs(evil, evil_idp.response(config.sp_urls(evil), email))

    assert response.status_code == 403, response.text
    assert browser.signed_in_user() is None
    if victim == "operator":
        assert browser.get("/admin/organizations/organization/").status_code == 302  # to the sign-in page
    else:
        assert browser.settings_status(acme) == 302
    joined = Membership.objects.filter(organization=evil, user__email=email).first()
    if path == "jit":  # Evil has not verified the victim's domain: just-in-time creates nothing there
        assert joined is None
        return
    assert joined is not None and joined.pending, "an existing account joins only by accepting"
    assert any(email in message.to for message in mailoutbox), "the person is asked, by e-mail"


def test_after_joining_by_consent_the_other_idp_still_needs_the_account_holders_proof(world, mailoutbox):
    """The victim accepted Evil's invitation: Evil's IdP still cannot link the
    account without its password or a link opened in the attacker's browser."""
    live_server, acme, evil, evil_idp = world
    invitations.invite_member(evil, "owner@acme.example", role=OrgRole.MEMBER, actor=builders.owner_of(evil).user)
    membership = Membership.objects.get(organization=evil, user__email="owner@acme.example")
    org_services.join(membership, actor=membership.user)

    attacker = Browser(live_server.url)
    response = attacker.post_acs(evil, evil_idp.response(config.sp_urls(evil), "owner@acme.example"))
    assert response.status_code == 302 and response.headers["location"] == reverse("saml:link", args=[evil.uid])
    assert attacker.signed_in_user() is None
    wrong = attacker.csrf_post(response.headers["location"], {"action": "password", "password": "guess"})
    assert wrong.status_code == 400 and attacker.signed_in_user() is None
    # The e-mailed link goes to the victim; opened in the victim's own browser it links nothing.
    sent = attacker.csrf_post(response.headers["location"], {"action": "email"})
    assert sent.status_code == 200
    link = re.search(r"http://\S+/link/\S+/", mailoutbox[-1].body).group(0)
    victim_browser = Browser(live_server.url)
    path = link.removeprefix(live_server.url)
    assert victim_browser.get(path).status_code == 403
    assert attacker.settings_status(acme) == 302
    assert not membership.sso_identities.exists()


def test_an_sso_session_opens_its_own_org_only_and_never_operator_rights(world):
    """A person who belongs to Acme and, by consent and proof, to Evil Inc: a
    session Evil's IdP made opens Evil and shows Evil only; Acme asks for its own
    sign-in (here the password)."""
    live_server, acme, evil, evil_idp = world
    person = builders.make_member(acme, "both@acme.example", role=OrgRole.ADMIN)
    builders.make_member(evil, "both@acme.example", role=OrgRole.ADMIN)
    browser = Browser(live_server.url)
    landing = browser.post_acs(evil, evil_idp.response(config.sp_urls(evil), "both@acme.example"))
    assert landing.headers["location"] == reverse("saml:link", args=[evil.uid])
    linked = browser.csrf_post(landing.headers["location"], {"action": "password", "password": builders.PASSWORD})
    assert linked.status_code == 302 and browser.signed_in_user() == person.user

    assert browser.settings_status(evil) == 200
    to_acme = browser.get(reverse("admin:org-settings", args=[acme.uid]))
    assert to_acme.status_code == 302 and to_acme.headers["location"].startswith(reverse("confirm_password"))
    home = browser.get(reverse("member_home")).text
    assert 'data-org="Evil Inc"' in home and 'data-org="Acme"' not in home
    confirmed = browser.csrf_post(to_acme.headers["location"], {"password": builders.PASSWORD})
    assert confirmed.status_code == 302
    assert browser.settings_status(acme) == 200


def test_an_admin_with_a_scim_token_cannot_repoint_the_idp_at_the_owner(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    acme = builders.make_org("Acme", owner_email="owner@acme.example")
    idp = TestIdP()
    with_sso(acme, idp, "acme")
    _, token = builders.enable_scim(acme)
    scim = httpx.Client(
        base_url=f"{live_server.url}/scim/v2/organizations/{acme.uid}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json", "Connection": "close"},
    )
    created = scim.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "admin@acme.example",
                                        "emails": [{"value": "admin@acme.example", "primary": True}]})
    admin = Membership.objects.get(pk=created.json()["id"])
    org_services.change_role(admin, OrgRole.ADMIN, actor=None)
    owner = builders.owner_of(acme)

    def rename(membership, user_name):
        body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "userName", "value": user_name}]}
        assert scim.patch(f"/Users/{membership.pk}", json=body).status_code == 200

    rename(admin, "nobody-in-particular")
    rename(owner, "admin@acme.example")

    browser = Browser(live_server.url)
    response = browser.post_acs(acme, idp.response(config.sp_urls(acme), "admin@acme.example"))

    assert response.status_code == 302
    assert browser.signed_in_user() == admin.user, "the NameID opens the Admin's own account, never the Owner's"
    # Owner-only pages stay closed to this session.
    assert browser.get(reverse("admin:org-settings-sso-enable", args=[acme.uid])).status_code == 403
    # Once linked, renaming again changes nothing.
    rename(owner, "nobody-in-particular-2")
    rename(admin, "someone-else")
    again = Browser(live_server.url)
    again.post_acs(acme, idp.response(config.sp_urls(acme), "admin@acme.example"))
    assert again.signed_in_user() == admin.user


def test_an_assertion_answering_another_browsers_request_cannot_be_rewrapped(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    acme = builders.make_org("Acme", owner_email="owner@acme.example")
    idp = TestIdP()
    with_sso(acme, idp, "acme")
    org_services.add_member(acme, "member@acme.example", actor=None)  # the org's own, no password
    sp = config.sp_urls(acme)

    victim = Browser(live_server.url)
    to_idp = victim.get(reverse("saml:login", args=[acme.uid]))
    request_id, _, _ = authn_request(to_idp.headers["location"])
    assertion = idp.sign(idp.assertion_xml(
        name_id="member@acme.example", audience=sp.entity_id, recipient=sp.acs_url, in_response_to=request_id,
    ))
    rewrapped = idp.response_xml(assertion=assertion, destination=sp.acs_url)  # no InResponseTo on the Response
    from tests.saml_idp import encode

    thief = Browser(live_server.url)
    response = thief.post_acs(acme, encode(rewrapped))

    assert response.status_code == 403 and 'data-reason="unknown_request"' in response.text
    assert thief.signed_in_user() is None
    # The browser that asked gets in with it.
    assert victim.post_acs(acme, encode(rewrapped)).status_code == 302
    assert victim.signed_in_user().email == "member@acme.example"


def test_a_strict_mode_persons_api_token_gets_403_json_not_a_sign_in_redirect(live_server, settings):
    from rest_framework.authtoken.models import Token

    settings.PUBLIC_BASE_URL = live_server.url
    acme = with_sso(builders.make_org("Acme", owner_email="owner@acme.example"), TestIdP(), "acme", strict=True)
    admin = builders.make_member(acme, "admin@acme.example", role=OrgRole.ADMIN)
    url = f"{live_server.url}/api/orgs/{acme.uid}/access/"

    refused = httpx.get(url, headers={"Authorization": f"Token {Token.objects.create(user=admin.user).key}"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/json")
    assert "identity provider" in refused.json()["detail"]
    owner_token = Token.objects.create(user=builders.owner_of(acme).user).key  # break-glass: the Owner
    assert httpx.get(url, headers={"Authorization": f"Token {owner_token}"}).status_code == 200
