"""What a verified domain changes at sign-in, over HTTP with the stand-in IdP
(tests/saml_idp.py): "Sign in with SSO" routes an address on the domain to the
org that verified it; that org's IdP links accounts on the domain at their
first sign-in without proof, and still asks proof for accounts elsewhere;
just-in-time creation is offered only on a verified domain."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import AuditEvent, Membership, User
from organizations.signin.domains import services as domain_services
from organizations.signin.saml import linking
from organizations.signin.saml import services as sso_services
from organizations.signin.saml.models import SsoIdentity
from tests import builders
from tests.signin.saml.conftest import enable_sso_for, post_acs

from .conftest import add_and_verify

pytestmark = pytest.mark.django_db


def _user_id(client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def acme_verified(dns, sso_org):
    add_and_verify(dns, sso_org, "acme.example", builders.owner_of(sso_org).user)
    return sso_org


# ---- "Sign in with SSO" by e-mail --------------------------------------------------


def test_an_address_on_a_verified_domain_goes_to_that_orgs_idp(client, acme_verified, idp):
    # Nobody has this address yet: routing by domain says nothing about the person.
    for address in ("new.hire@acme.example", "New.Hire@ACME.Example"):
        response = client.post(reverse("saml:start"), {"identifier": address})
        assert response.status_code == 302 and response["Location"] == reverse("saml:login", args=[acme_verified.uid])
    to_idp = client.get(response["Location"])
    assert to_idp["Location"].startswith(idp.sso_url + "?SAMLRequest=")


def test_routing_needs_sso_enabled_and_the_exact_domain(client, acme_verified):
    assert domain_services.org_for_email("x@sub.acme.example") is None
    assert domain_services.org_for_email("x@acme.example.evil.example") is None
    sso_services.disable_sso(acme_verified, actor=builders.owner_of(acme_verified).user)
    assert domain_services.org_for_email("x@acme.example") is None
    response = client.post(reverse("saml:start"), {"identifier": "new.hire@acme.example"})
    assert response.status_code != 302 or response["Location"] != reverse("saml:login", args=[acme_verified.uid])


def test_a_pending_claim_routes_nothing(client, dns, sso_org, idp):
    """Evil claims globex.example (not verified): addresses there do not go to Evil's IdP."""
    evil = enable_sso_for(builders.make_org("Evil", owner_email="mallory@evil.example"), idp, "evil")
    domain_services.add_domain(evil, "globex.example", actor=builders.owner_of(evil).user)
    assert domain_services.org_for_email("ceo@globex.example") is None
    response = client.post(reverse("saml:start"), {"identifier": "ceo@globex.example"})
    assert not (response.status_code == 302 and response["Location"] == reverse("saml:login", args=[evil.uid]))


# ---- linking at the first sign-in -------------------------------------------------


def test_the_idp_links_an_account_on_its_verified_domain_without_proof(client, acme_verified, sp, idp):
    member = builders.make_member(acme_verified, "pw@acme.example")  # a password of its own: not owned
    response = post_acs(client, acme_verified, idp.response(sp, "pw@acme.example"))
    assert response.status_code == 302 and response["Location"] != reverse("saml:link", args=[acme_verified.uid])
    assert _user_id(client) == str(member.user.pk)
    identity = SsoIdentity.objects.get()
    assert (identity.membership_id, identity.linked_by) == (member.pk, "domain")
    assert AuditEvent.objects.filter(action="sso.link", after__proof="domain").exists()
    from organizations import audit_log

    event = AuditEvent.objects.get(action="sso.link")
    assert "verified the domain" in audit_log.sentence(event)


def test_an_account_on_another_domain_still_proves_it_is_theirs(client, acme_verified, sp, idp):
    builders.make_member(acme_verified, "contractor@globex.example")
    response = post_acs(client, acme_verified, idp.response(sp, "contractor@globex.example"))
    assert response["Location"] == reverse("saml:link", args=[acme_verified.uid])
    assert _user_id(client) is None and not SsoIdentity.objects.exists()


def test_a_domain_another_org_verified_gives_this_idp_nothing(client, dns, sso_org, sp, idp):
    """Globex verified globex.example; Acme's IdP asserting a Globex address of an
    Acme member is asked for proof, as without domains."""
    globex = builders.make_org("Globex", owner_email="owner@globex.example")
    add_and_verify(dns, globex, "globex.example", builders.owner_of(globex).user)
    builders.make_member(sso_org, "dual@globex.example")
    response = post_acs(client, sso_org, idp.response(sp, "dual@globex.example"))
    assert response["Location"] == reverse("saml:link", args=[sso_org.uid]) and not SsoIdentity.objects.exists()


def test_a_pending_domain_links_nothing_without_proof(client, dns, sso_org, sp, idp):
    domain_services.add_domain(sso_org, "acme.example", actor=builders.owner_of(sso_org).user)
    builders.make_member(sso_org, "pw@acme.example")
    response = post_acs(client, sso_org, idp.response(sp, "pw@acme.example"))
    assert response["Location"] == reverse("saml:link", args=[sso_org.uid])


def test_an_operator_on_the_verified_domain_is_never_signed_in_by_the_idp(client, acme_verified, sp, idp):
    operator = User.objects.create_superuser("root@acme.example", builders.PASSWORD)
    membership = builders.make_member(acme_verified, "root@acme.example")
    assert membership.user_id == operator.pk
    response = post_acs(client, acme_verified, idp.response(sp, "root@acme.example"))
    assert response.status_code == 403 and _user_id(client) is None and not SsoIdentity.objects.exists()


def test_a_pending_membership_on_the_verified_domain_still_needs_the_invitation(client, acme_verified, sp, idp):
    """An account another org had (pending here): the domain links it only once it joined."""
    from organizations import services as org_services

    builders.make_member(builders.make_org("Globex"), "moved@acme.example")
    pending = org_services.add_member(acme_verified, "moved@acme.example", role="member", actor=None)
    assert pending.pending
    assert post_acs(client, acme_verified, idp.response(sp, "moved@acme.example")).status_code == 403
    assert not SsoIdentity.objects.exists()


# ---- just-in-time creation -----------------------------------------------------------


def _jit_on(org):
    sso_services.set_jit_provisioning(org, True, actor=builders.owner_of(org).user)
    org.refresh_from_db()


def test_jit_is_refused_for_an_unverified_domain(client, dns, sso_org, sp, idp):
    _jit_on(sso_org)
    domain_services.add_domain(sso_org, "acme.example", actor=builders.owner_of(sso_org).user)  # pending only
    response = post_acs(client, sso_org, idp.response(sp, "new@acme.example"))
    assert response.status_code == 403 and not User.objects.filter(email__iexact="new@acme.example").exists()
    ok, verdict = linking.would_accept(sso_org.sso, "new@acme.example")
    assert not ok and "verified" in verdict


def test_jit_creates_people_on_the_verified_domain_only(client, acme_verified, sp, idp):
    _jit_on(acme_verified)
    refused = post_acs(client, acme_verified, idp.response(sp, "someone@globex.example"))
    assert refused.status_code == 403 and not User.objects.filter(email__iexact="someone@globex.example").exists()
    assert linking.would_accept(acme_verified.sso, "new@acme.example")[0]

    response = post_acs(client, acme_verified, idp.response(sp, "new@acme.example"))
    assert response.status_code == 302
    created = Membership.objects.get(organization=acme_verified, user__email="new@acme.example")
    assert _user_id(client) == str(created.user_id)


def test_the_sso_tab_says_jit_needs_a_verified_domain(client, acme_verified):
    client.force_login(builders.owner_of(acme_verified).user)
    body = client.get(reverse("admin:org-settings-sso", args=[acme_verified.uid])).content.decode()
    assert 'id="sso-jit-domains"' in body and "acme.example" in body.split('id="sso-jit-domains"')[1][:300]


def test_jit_of_an_existing_account_on_the_verified_domain_still_asks_it_to_join(client, acme_verified, sp, idp, mailoutbox,
                                                                             django_capture_on_commit_callbacks):
    """The domain lets the IdP create people there, not take over an account that
    already belongs to someone (another org's member): that one is invited."""
    _jit_on(acme_verified)
    builders.make_member(builders.make_org("Globex"), "moved@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_acs(client, acme_verified, idp.response(sp, "moved@acme.example"))
    assert response.status_code == 403 and _user_id(client) is None
    assert Membership.objects.get(organization=acme_verified, user__email="moved@acme.example").pending
    assert any("moved@acme.example" in m.to for m in mailoutbox) and not SsoIdentity.objects.exists()
