"""Hostile SAML: each forged or misdirected response is refused with its reason
in the audit log, and no session is created."""
from __future__ import annotations

import datetime as dt

import pytest

from organizations.models import AuditEvent
from tests import builders
from tests.saml_idp import _now, decode, encode

from .conftest import post_acs

pytestmark = pytest.mark.django_db

VICTIM = "admin@acme.example"


@pytest.fixture
def victim(sso_org):
    return builders.make_provisioned(sso_org, VICTIM, role="admin")


def assert_refused(client, response, reason: str, *, signins_before: int = 0) -> None:
    assert response.status_code == 403, response.content[:500]
    assert "_auth_user_id" not in client.session
    assert f'data-reason="{reason}"' in response.content.decode()
    event = AuditEvent.objects.filter(action="sso.signin_refused").latest("id")
    assert event.after["reason"] == reason
    assert AuditEvent.objects.filter(action="sso.signin").count() == signins_before


def test_unsigned_response(client, victim, sso_org, sp, idp):
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, VICTIM, sign=False)), "unsigned")


def test_signed_by_another_key(client, victim, sso_org, sp, idp, other_idp):
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, VICTIM, signer=other_idp)), "bad_signature")


def test_signed_assertion_altered_after_signing(client, victim, sso_org, sp, idp):
    attacker = builders.make_provisioned(sso_org, "intern@acme.example")
    xml = decode(idp.response(sp, attacker.user.email)).replace("intern@acme.example", VICTIM)
    assert_refused(client, post_acs(client, sso_org, encode(xml)), "bad_signature")


def _wrapped(idp, sp, placement: str) -> str:
    """XML signature wrapping: the attacker holds a validly signed assertion for
    themselves and adds a forged unsigned one naming the victim."""
    signed = idp.sign(idp.assertion_xml(name_id="intern@acme.example", audience=sp.entity_id, recipient=sp.acs_url))
    forged = idp.assertion_xml(name_id=VICTIM, audience=sp.entity_id, recipient=sp.acs_url)
    if placement == "two-assertions":
        body = forged + signed
    else:  # the signed original hidden in Extensions, the forged one where the SP reads
        body = forged
    xml = idp.response_xml(assertion=body, destination=sp.acs_url)
    if placement == "extensions":
        head, tail = xml.split("</saml:Issuer>", 1)
        xml = f"{head}</saml:Issuer><samlp:Extensions>{signed}</samlp:Extensions>{tail}"
    return encode(xml)


@pytest.mark.parametrize("placement", ["two-assertions", "extensions"])
def test_signature_wrapping(client, victim, sso_org, sp, idp, placement):
    builders.make_provisioned(sso_org, "intern@acme.example")
    assert_refused(client, post_acs(client, sso_org, _wrapped(idp, sp, placement)), "signature_wrapping")


def test_expired(client, victim, sso_org, sp, idp):
    past = _now() - dt.timedelta(minutes=10)
    response = idp.response(sp, VICTIM, not_before=past - dt.timedelta(minutes=5), not_on_or_after=past)
    assert_refused(client, post_acs(client, sso_org, response), "expired")


def test_not_yet_valid(client, victim, sso_org, sp, idp):
    future = _now() + dt.timedelta(minutes=10)
    response = idp.response(sp, VICTIM, not_before=future, not_on_or_after=future + dt.timedelta(minutes=5))
    assert_refused(client, post_acs(client, sso_org, response), "not_yet_valid")


def test_wrong_audience(client, victim, sso_org, sp, idp, other_org):
    from organizations.signin.saml import config

    other_sp = config.sp_urls(other_org)
    response = idp.response(sp, VICTIM, audience=other_sp.entity_id)
    assert_refused(client, post_acs(client, sso_org, response), "wrong_audience")


def test_wrong_recipient(client, victim, sso_org, sp, idp):
    response = idp.response(sp, VICTIM, recipient="http://evil.example.test/acs")
    assert_refused(client, post_acs(client, sso_org, response), "wrong_recipient")


def test_wrong_destination(client, victim, sso_org, sp, idp):
    response = idp.response(sp, VICTIM, destination="http://evil.example.test/acs")
    assert_refused(client, post_acs(client, sso_org, response), "wrong_destination")


def test_replayed_assertion(client, victim, sso_org, sp, idp):
    response = idp.response(sp, VICTIM)
    assert post_acs(client, sso_org, response).status_code == 302
    client.logout()
    assert_refused(client, post_acs(client, sso_org, response), "replayed", signins_before=1)


def test_another_orgs_member(client, victim, sso_org, sp, idp, other_org):
    stranger = builders.make_member(other_org, "someone@globex.example", role="admin")
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, stranger.user.email)), "unknown_person")


def test_another_orgs_owner_is_unknown_here(client, victim, sso_org, sp, idp, other_org):
    other_owner = builders.owner_of(other_org).user.email
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, other_owner)), "unknown_person")


def test_deactivated_member(client, victim, sso_org, sp, idp):
    victim.active = False
    victim.save(update_fields=["active"])
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, VICTIM)), "deactivated")


def test_dtd_and_entity_payload(client, victim, sso_org, sp, idp):
    xml = decode(idp.response(sp, VICTIM))
    prolog = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY who "admin@acme.example"><!ENTITY x SYSTEM "file:///etc/passwd">]>'
    assert_refused(client, post_acs(client, sso_org, encode(prolog + xml.replace(VICTIM, "&who;"))), "malformed")


def test_another_orgs_idp_cannot_sign_in_here(client, victim, sso_org, sp, other_idp, other_org):
    """An IdP trusted by another org (its own key and issuer) is not this org's."""
    from organizations.signin.saml import services

    other_owner = builders.owner_of(other_org).user
    services.create_settings(other_org, actor=other_owner, signin_name="globex")
    response = other_idp.response(sp, VICTIM, issuer="http://globex-idp.example.test/saml")
    post = post_acs(client, sso_org, response)
    assert post.status_code == 403 and "_auth_user_id" not in client.session


def test_disabled_sso_refuses_valid_responses(client, victim, sso_org, sp, idp):
    from organizations.signin.saml import services

    services.disable_sso(sso_org, actor=builders.owner_of(sso_org).user)
    assert_refused(client, post_acs(client, sso_org, idp.response(sp, VICTIM)), "sso_disabled")


def test_garbage_is_refused_without_a_500(client, victim, sso_org):
    for payload in ("", "not base64 !!", encode("<not-saml/>"), encode("x" * 10)):
        response = post_acs(client, sso_org, payload)
        assert response.status_code == 403 and "_auth_user_id" not in client.session
