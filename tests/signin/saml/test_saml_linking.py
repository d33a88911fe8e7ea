"""Linked identities: an org's IdP signs a person in only through a link, made
at the first sign-in without asking only for an account the org owns, else
after the account holder's proof; and what a link-made session may open."""
from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from organizations import services as org_services
from organizations.models import AuditEvent, Membership, OrgRole
from organizations.signin import invitations, sessions
from organizations.signin.saml import services
from organizations.signin.saml.models import SsoIdentity
from tests import builders
from tests.saml_idp import authn_request

from .conftest import post_acs

pytestmark = pytest.mark.django_db


def _user_id(client):
    return client.session.get("_auth_user_id")


def test_an_account_the_org_created_is_linked_at_its_first_sign_in(client, sso_org, sp, idp):
    member = builders.make_provisioned(sso_org, "new@acme.example")
    response = post_acs(client, sso_org, idp.response(sp, "new@acme.example"))
    assert response.status_code == 302 and _user_id(client) == str(member.user.pk)
    identity = SsoIdentity.objects.get()
    assert (identity.membership_id, identity.name_id, identity.linked_by) == (member.pk, "new@acme.example", "owned")
    assert identity.last_signin_at is not None
    assert AuditEvent.objects.filter(action="sso.link", after__proof="owned").exists()


def test_an_account_with_a_password_proves_it_with_that_password(client, sso_org, sp, idp):
    member = builders.make_member(sso_org, "pw@acme.example")
    response = post_acs(client, sso_org, idp.response(sp, "pw@acme.example"))
    link_url = reverse("saml:link", args=[sso_org.uid])
    assert response["Location"] == link_url and _user_id(client) is None
    page = client.get(link_url)
    assert b"pw@acme.example" in page.content and b"link-password-form" in page.content

    assert client.post(link_url, {"action": "password", "password": "wrong"}).status_code == 400
    assert _user_id(client) is None and not SsoIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="sso.link_refused").exists()

    done = client.post(link_url, {"action": "password", "password": builders.PASSWORD})
    assert done.status_code == 302 and _user_id(client) == str(member.user.pk)
    assert SsoIdentity.objects.get().linked_by == "password"
    # The next sign-in goes straight through the link.
    client.logout()
    assert post_acs(client, sso_org, idp.response(sp, "pw@acme.example"))["Location"] == reverse("member_home")


def test_the_emailed_link_works_only_in_the_browser_that_came_from_the_idp(client, sso_org, sp, idp, mailoutbox):
    from django.test import Client

    member = builders.make_member(sso_org, "mail@acme.example")
    post_acs(client, sso_org, idp.response(sp, "mail@acme.example"))
    link_url = reverse("saml:link", args=[sso_org.uid])
    assert b"link-email-sent" in client.post(link_url, {"action": "email"}).content
    assert mailoutbox[-1].to == ["mail@acme.example"]
    path = re.search(r"https?://[^/\s]+(/\S+/link/\S+/)", mailoutbox[-1].body).group(1)

    other = Client()
    assert other.get(path).status_code == 403 and other.post(path).status_code == 403
    assert client.get(path).status_code == 200 and not SsoIdentity.objects.exists()  # a GET (mail scanners) links nothing
    assert client.post(path).status_code == 302
    assert _user_id(client) == str(member.user.pk) and SsoIdentity.objects.get().linked_by == "email"


def test_a_proof_page_expires(client, sso_org, sp, idp):
    builders.make_member(sso_org, "late@acme.example")
    post_acs(client, sso_org, idp.response(sp, "late@acme.example"))
    session = client.session
    session["saml_link"]["at"] = time.time() - 3600
    session.save()
    response = client.post(reverse("saml:link", args=[sso_org.uid]), {"action": "password", "password": builders.PASSWORD})
    assert response.status_code == 410 and _user_id(client) is None


def test_accepting_the_invitation_in_this_browser_is_the_proof(client, sso_org, sp, idp, mailoutbox,
                                                                django_capture_on_commit_callbacks):
    """An existing account added by the org is pending; it accepts by the e-mailed
    invitation, and the IdP sign-in started in the same browser links it."""
    other = builders.make_org("Globex")
    person = builders.make_member(other, "both@globex.example").user
    with django_capture_on_commit_callbacks(execute=True):
        membership, _ = invitations.invite_member(sso_org, "both@globex.example", actor=builders.owner_of(sso_org).user)
    assert membership.pending
    assert post_acs(client, sso_org, idp.response(sp, "both@globex.example")).status_code == 403  # not joined yet

    path = "/" + mailoutbox[-1].body.split("://", 1)[1].split("/", 1)[1].split()[0]
    assert client.post(path).status_code == 302
    membership.refresh_from_db()
    assert not membership.pending
    to_idp = client.get(reverse("saml:login", args=[sso_org.uid]))
    request_id, _, _ = authn_request(to_idp["Location"])
    response = post_acs(client, sso_org, idp.response(sp, "both@globex.example", in_response_to=request_id))
    assert response.status_code == 302 and _user_id(client) == str(person.pk)
    assert SsoIdentity.objects.get().linked_by == "invitation"


def test_a_scim_rename_never_changes_which_account_a_linked_name_id_opens(client, sso_org, sp, idp):
    member = builders.make_provisioned(sso_org, "ada@acme.example")
    post_acs(client, sso_org, idp.response(sp, "ada@acme.example"))
    client.logout()
    other = builders.make_provisioned(sso_org, "bob@acme.example")
    Membership.objects.filter(pk=member.pk).update(scim_username="ada-renamed")
    Membership.objects.filter(pk=other.pk).update(scim_username="ada@acme.example")
    post_acs(client, sso_org, idp.response(sp, "ada@acme.example"))
    assert _user_id(client) == str(member.user.pk)


def test_removing_the_membership_removes_its_links_and_the_owner_can_unlink(client, sso_org, sp, idp):
    member = builders.make_provisioned(sso_org, "gone@acme.example")
    post_acs(client, sso_org, idp.response(sp, "gone@acme.example"))
    owner = builders.owner_of(sso_org).user
    client.force_login(owner)
    detail = client.get(reverse("admin:member-detail", args=[sso_org.uid, member.pk]))
    assert b"Linked to <code>gone@acme.example</code>" in detail.content and b"member-sso-unlink" in detail.content

    assert client.post(reverse("admin:member-sso-unlink", args=[sso_org.uid, member.pk])).status_code == 302
    assert not SsoIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="sso.unlink", target_label="gone@acme.example").exists()

    admin = builders.make_member(sso_org, "admin@acme.example", role=OrgRole.ADMIN)
    client.force_login(admin.user)  # an Admin reads the page but cannot unlink
    assert client.post(reverse("admin:member-sso-unlink", args=[sso_org.uid, member.pk])).status_code == 403

    post_acs(client, sso_org, idp.response(sp, "gone@acme.example"))
    org_services.remove_member(member, actor=None)
    assert not SsoIdentity.objects.exists()


def test_idp_initiated_sign_in_can_be_turned_off(client, sso_org, sp, idp):
    builders.make_provisioned(sso_org, "tile@acme.example")
    services.set_session_policy(sso_org, allow_idp_initiated=False, session_timeout_minutes=60,
                                actor=builders.owner_of(sso_org).user)
    refused = post_acs(client, sso_org, idp.response(sp, "tile@acme.example"))
    assert refused.status_code == 403 and b'data-reason="idp_initiated_off"' in refused.content
    to_idp = client.get(reverse("saml:login", args=[sso_org.uid]))
    request_id, _, _ = authn_request(to_idp["Location"])
    assert post_acs(client, sso_org, idp.response(sp, "tile@acme.example", in_response_to=request_id)).status_code == 302


def test_an_sso_session_ends_after_the_orgs_session_timeout_and_goes_back_to_the_idp(client, sso_org, sp, idp):
    builders.make_provisioned(sso_org, "timed@acme.example")
    services.set_session_policy(sso_org, allow_idp_initiated=True, session_timeout_minutes=30,
                                actor=builders.owner_of(sso_org).user)
    post_acs(client, sso_org, idp.response(sp, "timed@acme.example"))
    assert client.get(reverse("member_home")).status_code == 200
    session = client.session
    session[sessions.AUTH_KEY]["sso"][str(sso_org.pk)] = time.time() - 31 * 60
    session.save()
    response = client.get(reverse("member_home"))
    assert response.status_code == 302 and response["Location"] == reverse("saml:login", args=[sso_org.uid])
    assert _user_id(client) is None


def test_an_operator_is_never_signed_in_by_an_idp_or_an_invitation_link(client, sso_org, sp, idp, mailoutbox,
                                                                         django_capture_on_commit_callbacks):
    from organizations.models import User

    operator = User.objects.create_superuser("op@orgdesk.example", builders.PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        membership, _ = invitations.invite_member(sso_org, "op@orgdesk.example", actor=None)
    path = "/" + mailoutbox[-1].body.split("://", 1)[1].split("/", 1)[1].split()[0]
    assert client.post(path).status_code == 302 and _user_id(client) is None
    refused = post_acs(client, sso_org, idp.response(sp, "op@orgdesk.example"))
    assert refused.status_code == 403 and b'data-reason="operator"' in refused.content
    # A session of an operator that did not come from the password ends.
    client.force_login(operator, backend=sessions.SSO_BACKEND)
    assert client.get("/admin/organizations/organization/").status_code == 302
    assert _user_id(client) is None


def test_test_sso_says_when_a_person_would_have_to_prove_their_account(client, sso_org, sp, idp):
    from organizations.signin.saml import linking

    builders.make_member(sso_org, "pw@acme.example")
    builders.make_provisioned(sso_org, "new@acme.example")
    sso = sso_org.sso
    assert "after proving" in linking.would_accept(sso, "pw@acme.example")[1]
    assert linking.would_accept(sso, "new@acme.example") == (True, "new@acme.example would sign in as Member.")


def test_the_proof_password_is_throttled_like_a_sign_in(client, sso_org, sp, idp, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 50
    builders.make_member(sso_org, "guess@acme.example")
    post_acs(client, sso_org, idp.response(sp, "guess@acme.example"))
    link_url = reverse("saml:link", args=[sso_org.uid])
    for _ in range(3):
        assert client.post(link_url, {"action": "password", "password": "wrong"}).status_code == 400
    paused = client.post(link_url, {"action": "password", "password": builders.PASSWORD})
    assert paused.status_code == 400 and b"paused" in paused.content.lower()
    assert _user_id(client) is None and not SsoIdentity.objects.exists()
