"""Signed AuthnRequests and encrypted assertions, over real HTTP with the
stand-in IdP: the org's SP key is generated when first needed and published in
the SP metadata (its private key never shown); the IdP verifies the
HTTP-Redirect signature and encrypts the assertion to the SP's certificate;
an unencrypted assertion is refused when encryption is required."""
from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from organizations.models import AuditEvent
from organizations.signin.saml import config, services
from organizations.signin.saml.models import SsoSettings
from tests import builders
from tests.saml_idp import TestIdP, verify_redirect_signature

from .conftest import post_acs
from .http_idp import http_get, idp_server_for, posted_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    idp = TestIdP()
    with idp_server_for(org, idp) as server:
        yield org, idp, server


def _options(org, *, sign: bool, encrypt: bool) -> SsoSettings:
    owner = builders.owner_of(org).user
    return services.set_security_options(org, sign_authn_requests=sign, want_assertions_encrypted=encrypt, actor=owner)


def _sign_in_through_the_idp(client, org, server, email: str):
    """SP-initiated: our login URL -> the IdP over HTTP -> its form -> our ACS."""
    server.user = email
    to_idp = client.get(reverse("saml:login", args=[org.uid]))
    assert to_idp.status_code == 302 and to_idp["Location"].startswith(server.base_url)
    status, body, _ = http_get(to_idp["Location"])
    if status != 200:
        return status, None
    form = posted_form(body)
    return status, post_acs(client, org, form["SAMLResponse"], form.get("RelayState", ""))


def test_owner_turns_both_on_from_the_tab_and_the_key_is_made_once(client, world):
    org, idp, server = world
    owner = builders.owner_of(org).user
    assert SsoSettings.objects.get(organization=org).sp_x509_cert == ""
    client.force_login(owner)
    tab = reverse("admin:org-settings-sso", args=[org.uid])
    response = client.post(tab, {"form": "security", "security-sign_authn_requests": "on",
                                 "security-want_assertions_encrypted": "on"})
    assert response.status_code == 302
    sso = SsoSettings.objects.get(organization=org)
    assert sso.sign_authn_requests and sso.want_assertions_encrypted
    assert "BEGIN CERTIFICATE" in sso.sp_x509_cert and "PRIVATE KEY" in sso.sp_private_key
    body = client.get(tab).content.decode()
    assert 'id="sso-sp-cert"' in body and "PRIVATE KEY" not in body
    metadata = client.get(reverse("saml:metadata", args=[org.uid])).content.decode()
    assert 'AuthnRequestsSigned="true"' in metadata and 'WantAssertionsSigned="true"' in metadata
    assert 'use="signing"' in metadata and 'use="encryption"' in metadata and "PRIVATE" not in metadata
    assert services.certificate_info(sso.sp_x509_cert).sha256.replace(":", "")  # a real certificate
    cert_body = "".join(sso.sp_x509_cert.strip().splitlines()[1:-1])
    assert cert_body in metadata
    event = AuditEvent.objects.get(action="sso.set_security_options")
    assert event.after["sign_authn_requests"] is True and "PRIVATE" not in str(event.after)
    # Turning them off and on again keeps the key the IdP already trusts.
    key = sso.sp_private_key
    _options(org, sign=False, encrypt=False)
    _options(org, sign=True, encrypt=False)
    assert SsoSettings.objects.get(organization=org).sp_private_key == key


def test_a_signed_authn_request_is_verified_by_the_idp(client, world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    sso = _options(org, sign=True, encrypt=False)
    server.sp_cert, server.require_signed_requests = sso.sp_x509_cert, True
    status, response = _sign_in_through_the_idp(client, org, server, member.user.email)
    assert status == 200 and response.status_code == 302
    assert server.authn_requests[-1] == {"id": server.authn_requests[-1]["id"], "signed": True, "verified": True}
    assert client.session.get("_auth_user_id") == str(member.user.pk)


def test_an_unsigned_or_foreign_signed_request_fails_verification(client, world):
    org, idp, server = world
    builders.make_provisioned(org, "member@acme.example")
    _options(org, sign=False, encrypt=False)
    location = client.get(reverse("saml:login", args=[org.uid]))["Location"]
    assert "Signature=" not in location
    _options(org, sign=True, encrypt=False)
    signed = client.get(reverse("saml:login", args=[org.uid]))["Location"]
    assert verify_redirect_signature(signed, SsoSettings.objects.get(organization=org).sp_x509_cert)
    assert not verify_redirect_signature(signed, TestIdP().cert_pem)  # another key
    tampered = signed.replace("RelayState=", "RelayState=x") if "RelayState=" in signed else signed.replace(
        "SigAlg=", "RelayState=evil&SigAlg=")
    assert not verify_redirect_signature(tampered, SsoSettings.objects.get(organization=org).sp_x509_cert)
    server.sp_cert = SsoSettings.objects.get(organization=org).sp_x509_cert
    server.require_signed_requests = True
    _options(org, sign=False, encrypt=False)
    status, _ = _sign_in_through_the_idp(client, org, server, "member@acme.example")
    assert status == 403  # the IdP refuses an unsigned request


def test_an_encrypted_assertion_is_accepted(client, world):
    org, idp, server = world
    member = builders.make_provisioned(org, "member@acme.example")
    sso = _options(org, sign=False, encrypt=True)
    server.sp_cert, server.encrypt = sso.sp_x509_cert, True
    status, response = _sign_in_through_the_idp(client, org, server, member.user.email)
    assert status == 200 and response.status_code == 302, response.content.decode()[:400]
    assert client.session.get("_auth_user_id") == str(member.user.pk)
    # IdP-initiated (the tile) too.
    client.logout()
    status, body, _ = http_get(server.base_url + "/tile")
    assert "EncryptedAssertion" in base64.b64decode(posted_form(body)["SAMLResponse"]).decode()
    assert post_acs(client, org, posted_form(body)["SAMLResponse"]).status_code == 302


def test_an_unencrypted_assertion_is_refused_when_encryption_is_required(client, world):
    org, idp, server = world
    builders.make_provisioned(org, "member@acme.example")
    _options(org, sign=False, encrypt=True)
    sp = config.sp_urls(org)
    response = post_acs(client, org, idp.response(sp, "member@acme.example"))
    assert response.status_code == 403 and "requires encrypted assertions" in response.content.decode()
    assert client.session.get("_auth_user_id") is None
    assert AuditEvent.objects.filter(action="sso.signin_refused", after__reason="not_encrypted").exists()


def test_an_assertion_encrypted_to_another_key_is_refused(client, world):
    org, idp, server = world
    builders.make_provisioned(org, "member@acme.example")
    _options(org, sign=False, encrypt=True)
    other = services._generate_sp_key(org)[0]
    response = post_acs(client, org, idp.response(config.sp_urls(org), "member@acme.example", encrypt_to=other))
    assert response.status_code == 403 and client.session.get("_auth_user_id") is None


def test_a_rewrapped_encrypted_assertion_cannot_pass_as_idp_initiated(client, world):
    """InResponseTo is read from the decrypted assertion too."""
    org, idp, server = world
    builders.make_provisioned(org, "member@acme.example")
    sso = _options(org, sign=False, encrypt=True)
    response = idp.response(config.sp_urls(org), "member@acme.example", in_response_to="_someone_elses_request",
                            encrypt_to=sso.sp_x509_cert)
    xml = base64.b64decode(response).decode().replace(' InResponseTo="_someone_elses_request"', "", 1)
    refused = post_acs(client, org, base64.b64encode(xml.encode()).decode())
    assert refused.status_code == 403 and client.session.get("_auth_user_id") is None
