"""A real SAML round trip with the test IdP: SP-initiated (AuthnRequest ->
signed Response with InResponseTo) and IdP-initiated (the Okta tile), landing
by role; the sign-in audited."""
from __future__ import annotations

import time

import pytest
from django.urls import NoReverseMatch, reverse

from organizations.models import AuditEvent, Membership
from tests import builders
from tests.saml_idp import authn_request

from .conftest import enable_sso_for, link, post_acs

pytestmark = pytest.mark.django_db


def _session_user(client):
    return client.session.get("_auth_user_id")


def test_sp_initiated_admin_lands_in_organization_settings(client, sso_org, sp, idp):
    admin = builders.make_provisioned(sso_org, "admin@acme.example", role="admin")
    start = client.post(reverse("saml:start"), {"identifier": "acme"})
    assert start.status_code == 302 and start["Location"] == reverse("saml:login", args=[sso_org.uid])
    to_idp = client.get(start["Location"])
    assert to_idp.status_code == 302 and to_idp["Location"].startswith(idp.sso_url + "?SAMLRequest=")
    request_id, acs_url, _ = authn_request(to_idp["Location"])
    assert acs_url == sp.acs_url

    response = post_acs(client, sso_org, idp.response(sp, "Admin@Acme.example", in_response_to=request_id))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:org-settings", args=[sso_org.uid])
    assert _session_user(client) == str(admin.user.pk)
    assert client.get(response["Location"]).status_code == 200
    event = AuditEvent.objects.get(action="sso.signin")
    assert (event.actor_label, event.after["flow"], event.after["role"]) == ("admin@acme.example", "sp", "admin")


def test_idp_initiated_member_lands_on_the_member_home(client, sso_org, sp, idp):
    member = builders.make_provisioned(sso_org, "member@acme.example")
    response = post_acs(client, sso_org, idp.response(sp, "member@acme.example"))
    assert response.status_code == 302
    try:
        expected = reverse("member_home")
    except NoReverseMatch:  # the member home page is not installed
        expected = reverse("saml:signed-in")
    assert response["Location"] == expected
    assert _session_user(client) == str(member.user.pk)
    assert AuditEvent.objects.get(action="sso.signin").after["flow"] == "idp"


def test_unknown_sign_in_name_is_a_form_error(client, sso_org):
    response = client.post(reverse("saml:start"), {"identifier": "nosuch"})
    assert response.status_code == 400
    assert "No organization signs in with SSO under that name" in response.content.decode()


def test_a_response_answers_only_the_request_this_browser_started(client, sso_org, sp, idp):
    """InResponseTo must name an AuthnRequest kept in this session, once."""
    builders.make_provisioned(sso_org, "member@acme.example")
    request_id = authn_request(client.get(reverse("saml:login", args=[sso_org.uid]))["Location"])[0]
    forged = post_acs(client, sso_org, idp.response(sp, "member@acme.example", in_response_to="_not" + request_id))
    assert forged.status_code == 403 and _session_user(client) is None
    ok = post_acs(client, sso_org, idp.response(sp, "member@acme.example", in_response_to=request_id))
    assert ok.status_code == 302
    client.logout()
    again = post_acs(client, sso_org, idp.response(sp, "member@acme.example", in_response_to=request_id))
    assert again.status_code == 403 and _session_user(client) is None
    reasons = list(AuditEvent.objects.filter(action="sso.signin_refused").values_list("after__reason", flat=True))
    assert reasons == ["unknown_request", "unknown_request"]


def test_sp_metadata_names_the_acs_and_entity_id(client, sso_org, sp):
    response = client.get(reverse("saml:metadata", args=[sso_org.uid]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'entityID="{sp.entity_id}"' in body and f'Location="{sp.acs_url}"' in body


def test_jit_creates_a_member_only_when_scim_is_off(client, sso_org, sp, idp):
    from organizations.signin.saml import services

    owner = builders.owner_of(sso_org).user
    services.set_jit_provisioning(sso_org, True, actor=owner)
    sso_org.scim_enabled = True
    sso_org.save(update_fields=["scim_enabled"])
    refused = post_acs(client, sso_org, idp.response(sp, "new@acme.example"))
    assert refused.status_code == 403 and not Membership.objects.filter(user__email="new@acme.example").exists()

    sso_org.scim_enabled = False
    sso_org.save(update_fields=["scim_enabled"])
    builders.verified_domain(sso_org, "acme.example")  # just-in-time only on a verified domain (tests/signin/domains)
    response = post_acs(client, sso_org, idp.response(sp, "new@acme.example"))
    assert response.status_code == 302
    created = Membership.objects.get(organization=sso_org, user__email="new@acme.example")
    assert created.role == "member" and _session_user(client) == str(created.user_id)


def test_strict_mode_members_still_sign_in_through_sso(client, sso_org, sp, idp):
    from organizations.signin.saml import services

    member = builders.make_provisioned(sso_org, "member@acme.example")
    services.set_strict(sso_org, True, actor=builders.owner_of(sso_org).user)
    assert post_acs(client, sso_org, idp.response(sp, "member@acme.example")).status_code == 302
    assert _session_user(client) == str(member.user.pk)


def test_an_sso_session_ends_when_the_org_that_signed_it_in_deactivates_them(client, sso_org, sp, idp):
    """Active elsewhere or not: the org whose IdP vouched for the session decides."""
    from organizations.signin import sessions

    member = builders.make_member(sso_org, "member@acme.example")
    builders.make_member(builders.make_org("Globex"), "member@acme.example")
    link(sso_org, member)
    post_acs(client, sso_org, idp.response(sp, "member@acme.example"))
    assert set(client.session[sessions.AUTH_KEY]["sso"]) == {str(sso_org.pk)}
    assert client.get(reverse("member_home")).status_code == 200

    builders.set_active(member, False)  # an IdP deprovisions them
    assert client.get(reverse("member_home")).status_code == 302
    assert _session_user(client) is None


def test_an_invitation_to_a_strict_org_asks_no_password_and_leads_to_sso(
    client, sso_org, mailoutbox, django_capture_on_commit_callbacks
):
    from organizations.signin import invitations
    from organizations.signin.saml import services

    owner = builders.owner_of(sso_org).user
    services.set_strict(sso_org, True, actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_member(sso_org, "new@acme.example", role="member", actor=owner)
    path = "/" + mailoutbox[-1].body.split("://", 1)[1].split("/", 1)[1].split()[0]

    page = client.get(path)
    assert page.status_code == 200
    assert b"signs in through its identity provider" in page.content and b"new_password1" not in page.content
    response = client.post(path)

    assert response.status_code == 302 and response["Location"] == reverse("saml:login", args=[sso_org.uid])
    assert _session_user(client) is None  # no password session in a strict org
    joined = Membership.objects.get(organization=sso_org, user__email="new@acme.example")
    assert joined.active and not joined.user.has_usable_password()


def test_a_strict_org_is_managed_only_from_a_session_its_own_idp_signed_in(client, sso_org, sp, idp, other_idp):
    """Signed in through another org's IdP, an Admin of a strict org is sent to its
    IdP; its Owner keeps the break-glass password; a non-strict org is unaffected."""
    from organizations.signin import sessions
    from organizations.signin.saml import services

    services.set_strict(sso_org, True, actor=builders.owner_of(sso_org).user)
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin")
    globex = enable_sso_for(builders.make_org("Globex"), other_idp, "globex")
    builders.make_member(globex, "admin@acme.example", role="admin")
    settings_of = lambda org: reverse("admin:org-settings", args=[org.uid])  # noqa: E731

    link(sso_org, admin)
    client.force_login(admin.user, backend=sessions.SSO_BACKEND)
    session = client.session
    session[sessions.AUTH_KEY] = {"user": admin.user.pk, "password": False, "sso": {str(globex.pk): time.time()}}
    session.save()  # as if Globex's IdP had signed this session in
    refused = client.get(settings_of(sso_org))
    assert refused.status_code == 302 and refused["Location"] == reverse("saml:login", args=[sso_org.uid])
    assert client.get(reverse("admin:org-settings-members", args=[sso_org.uid])).status_code == 302
    assert client.get(settings_of(globex)).status_code == 200

    post_acs(client, sso_org, idp.response(sp, "admin@acme.example"))  # through Acme's own IdP
    assert client.get(settings_of(sso_org)).status_code == 200

    client.force_login(builders.owner_of(sso_org).user)  # password session: the Owner's break-glass
    assert client.get(settings_of(sso_org)).status_code == 200
