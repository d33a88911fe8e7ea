"""Members the IdP provisions are invited (unless the org turned that off), and
a session stops working on its next request once its person is deactivated:
everywhere when deactivated everywhere, for that org only when active elsewhere."""
from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from organizations.models import AuditEvent
from organizations.signin import sessions
from tests.signin.saml.conftest import enable_sso_for
from tests.saml_idp import TestIdP
from organizations.signin.models import Invitation
from tests import builders
from tests.scim.api.helpers import ScimClient

from .test_invitations import NEW_PASSWORD, link_from, path_of

pytestmark = pytest.mark.django_db(transaction=True)
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim_for(org) -> ScimClient:
    return ScimClient(org, builders.enable_scim(org)[1], Client())


def provision(scim: ScimClient, email: str) -> int:
    response = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": email, "emails": [{"value": email, "primary": True}]})
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def set_active(scim: ScimClient, membership_id: int, active: bool) -> None:
    body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": active}}]}
    assert scim.patch(f"/Users/{membership_id}", body).status_code == 200


def test_a_provisioned_member_is_invited_and_signs_in_to_their_home(mailoutbox):
    org = builders.make_org("Acme")
    scim = scim_for(org)
    provision(scim, "okta.person@acme.example")
    invitation = Invitation.objects.get()
    assert invitation.source == "scim" and invitation.sent_at is not None
    browser = Client()
    url = path_of(link_from(mailoutbox, "okta.person@acme.example"))
    response = browser.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == reverse("member_home")
    home = browser.get(reverse("member_home"))
    assert home.status_code == 200 and b'data-org="Acme"' in home.content


def test_no_invitation_when_the_org_turned_it_off_on_the_scim_tab(client, mailoutbox):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    scim = scim_for(org)
    client.login(username="owner@acme.example", password=builders.PASSWORD)
    tab = client.get(reverse("admin:org-settings-scim", args=[org.uid])).content.decode()
    assert "Send invitations to provisioned members" in tab
    client.post(reverse("admin:org-settings-provisioned-invitations", args=[org.uid]), {})
    org.refresh_from_db()
    assert org.invite_provisioned_members is False
    assert AuditEvent.objects.filter(action="organization.invite_provisioned_members").exists()
    provision(scim, "quiet@acme.example")
    assert not Invitation.objects.exists() and mailoutbox == []


def test_reactivation_reinvites_only_people_without_a_password(mailoutbox):
    org = builders.make_org("Acme")
    scim = scim_for(org)
    never = provision(scim, "never@acme.example")
    has_password = provision(scim, "set@acme.example")
    Client().post(path_of(link_from(mailoutbox, "set@acme.example")), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    for membership_id in (never, has_password):
        set_active(scim, membership_id, False)
    assert not Invitation.objects.pending().exists()  # deactivation closed the open link
    mailoutbox.clear()
    for membership_id in (never, has_password):
        set_active(scim, membership_id, True)
    assert [m.to for m in mailoutbox] == [["never@acme.example"]]


def test_a_member_deactivated_over_scim_loses_their_live_session_on_the_next_request(mailoutbox):
    org = builders.make_org("Acme")
    scim = scim_for(org)
    admin = builders.make_member(org, "admin@acme.example", role="admin")
    browser = Client()
    assert browser.login(username="admin@acme.example", password=builders.PASSWORD)
    assert browser.get(reverse("admin:org-settings-members", args=[org.uid])).status_code == 200

    set_active(scim, admin.pk, False)

    response = browser.get(reverse("admin:org-settings-members", args=[org.uid]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert SESSION_KEY not in browser.session
    assert browser.get(reverse("member_home")).status_code == 302
    # and cannot sign in again while deactivated everywhere
    again = browser.post(reverse("admin:login"), {"username": "admin@acme.example", "password": builders.PASSWORD})
    assert again.status_code == 200 and b"not an active member of any organization" in again.content


def test_deactivated_in_one_org_but_active_in_another_loses_only_that_org():
    acme = builders.make_org("Acme")
    globex = builders.make_org("Globex")
    scim = scim_for(acme)
    in_acme = builders.make_member(acme, "both@example.com", role="admin")
    builders.make_member(globex, "both@example.com", role="admin")
    browser = Client()
    assert browser.login(username="both@example.com", password=builders.PASSWORD)

    set_active(scim, in_acme.pk, False)

    assert browser.get(reverse("admin:org-settings", args=[acme.uid])).status_code == 404
    assert browser.get(reverse("admin:org-settings", args=[globex.uid])).status_code == 200
    home = browser.get(reverse("member_home")).content
    assert b'data-org="Globex"' in home and b'data-org="Acme"' not in home


def test_a_session_signed_in_through_an_org_ends_when_that_org_deactivates_them():
    """SSO sign-in records the org in the session: its deactivation ends the session
    even though the person is active elsewhere."""
    acme = enable_sso_for(builders.make_org("Acme"), TestIdP(), "acme")
    globex = builders.make_org("Globex")
    scim = scim_for(acme)
    in_acme = builders.make_member(acme, "both@example.com")
    builders.make_member(globex, "both@example.com")
    browser = Client()
    browser.force_login(in_acme.user, backend=sessions.SSO_BACKEND)  # as Acme's ACS does
    session = browser.session
    session[sessions.AUTH_KEY] = {"user": in_acme.user.pk, "password": False, "sso": {str(acme.pk): time.time()}}
    session.save()
    assert browser.get(reverse("member_home")).status_code == 200
    set_active(scim, in_acme.pk, False)
    assert browser.get(reverse("member_home")).status_code == 302
    assert SESSION_KEY not in browser.session


def test_the_session_check_costs_one_query_and_nothing_for_anonymous_requests(
    client, django_assert_num_queries
):
    org = enable_sso_for(builders.make_org("Acme"), TestIdP(), "acme")
    member = builders.make_member(org, "m@acme.example")
    with django_assert_num_queries(0):
        client.get("/healthz")
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    # a loaded password session, then an SSO one
    request.user = member.user
    request.session = {sessions.AUTH_KEY: {"user": member.user.pk, "password": True, "sso": {}}}
    with django_assert_num_queries(1):
        assert sessions.check_session(request).valid
    request.session = {sessions.AUTH_KEY: {"user": member.user.pk, "password": False, "sso": {str(org.pk): time.time()}}}
    with django_assert_num_queries(1):
        assert sessions.check_session(request).valid
    builders.set_active(member, False)  # an IdP deprovisions them
    with django_assert_num_queries(1):
        assert not sessions.check_session(request).valid
