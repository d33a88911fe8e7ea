"""Invitations: a one-time link e-mailed over real SMTP, refused when it is
expired, used, revoked, of another org, tampered with, or its member is gone."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from organizations.models import AuditEvent, OrgRole, User
from organizations.signin import invitations
from organizations.signin.members_tab import INVITATIONS_PER_PAGE
from organizations.signin.models import Invitation
from organizations.tokens import hash_token
from organizations.signin.tasks import send_invitation_email
from tests import builders

from .conftest import LINK, path_of

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "a-fresh-and-long-passphrase-77"


def invite(org, email="new@acme.example", role=OrgRole.MEMBER):
    owner = builders.owner_of(org).user
    membership, invitation = invitations.invite_member(org, email, role=role, actor=owner)
    return membership, invitation


def link_from(mailoutbox, to: str) -> str:
    body = next(m.body for m in reversed(mailoutbox) if to in m.to)
    return LINK.findall(body)[0]


def test_invite_member_command_sends_a_one_time_link_over_smtp(smtp_server, client):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    call_command("invite_member", org.uid, "ada@acme.example", "--role", "Admin", "--actor", "owner@acme.example")

    message = smtp_server.wait_for("ada@acme.example")
    assert message["Subject"] == "You are invited to Acme on Orgdesk"
    url = smtp_server.link("ada@acme.example")
    invitation = Invitation.objects.get(email="ada@acme.example")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert url == f"http://127.0.0.1:8000/invitations/{org.uid}/{token}/"
    assert invitation.token_hash == hash_token(token) and token not in str(Invitation.objects.values().get())
    assert invitation.sent_at is not None

    page = client.get(path_of(url))
    assert page.status_code == 200 and b"Choose a password" in page.content
    weak = client.post(path_of(url), {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and b"This password is too common" in weak.content
    done = client.post(path_of(url), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("admin:org-settings", args=[org.uid])
    assert client.get(done["Location"]).status_code == 200  # signed in, as the Admin
    user = User.objects.get(email="ada@acme.example")
    assert user.check_password(NEW_PASSWORD)
    assert list(
        AuditEvent.objects.filter(target_type="organizations.invitation").order_by("id").values_list("action", flat=True)
    ) == ["invitation.create", "invitation.deliver", "invitation.accept"]
    again = client.get(path_of(url))
    assert again.status_code == 410 and b"already been used" in again.content


def test_a_person_with_an_account_confirms_and_joins(client, mailoutbox):
    org = builders.make_org("Acme")
    other = builders.make_org("Globex")
    existing = builders.make_member(other, "grace@example.com").user
    invite(org, "Grace@Example.com")
    url = link_from(mailoutbox, existing.email)
    page = client.get(path_of(url))
    assert b"Join Acme" in page.content and b"new_password1" not in page.content
    response = client.post(path_of(url))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert Invitation.objects.get().accepted_at is not None
    assert existing.memberships.filter(organization=org, active=True).exists()


def refused(client, url: str, status: int, refusal: str) -> str:
    response = client.get(url)
    assert response.status_code == status, response.content
    assert f'data-refusal="{refusal}"'.encode() in response.content
    assert b"new_password1" not in response.content
    return response.content.decode()


def test_expired_reused_revoked_foreign_and_tampered_links_are_refused(client, mailoutbox):
    org = builders.make_org("Acme")
    other = builders.make_org("Globex")
    _, expiring = invite(org, "exp@acme.example")
    _, revoked = invite(org, "rev@acme.example")
    invite(org, "used@acme.example")
    invite(org, "tamper@acme.example")
    Invitation.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    invitations.revoke_invitation(revoked, actor=None)
    used = path_of(link_from(mailoutbox, "used@acme.example"))
    client.post(used, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client.logout()
    tampered = path_of(link_from(mailoutbox, "tamper@acme.example"))
    token = tampered.rstrip("/").rsplit("/", 1)[1]
    tampered = tampered.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))

    refused(client, path_of(link_from(mailoutbox, "exp@acme.example")), 410, "expired")
    refused(client, used, 410, "used")
    refused(client, path_of(link_from(mailoutbox, "rev@acme.example")), 410, "revoked")
    refused(client, used.replace(org.uid, other.uid), 404, "foreign")
    refused(client, tampered, 404, "invalid")
    refusals = AuditEvent.objects.filter(action="invitation.refuse")
    assert sorted(e.after["reason"] for e in refusals) == ["expired", "foreign", "revoked", "used"]
    assert {e.org_uid for e in refusals} == {org.uid}  # the invitation's own org, never the URL's


def test_removing_or_deactivating_the_membership_kills_the_link(client, mailoutbox):
    from scim.provisioning import set_membership_active

    org = builders.make_org("Acme")
    removed, _ = invite(org, "gone@acme.example")
    deactivated, _ = invite(org, "off@acme.example")
    from organizations.services import remove_member

    remove_member(removed, actor=None)
    set_membership_active(deactivated, False, actor=None)
    refused(client, path_of(link_from(mailoutbox, "gone@acme.example")), 410, "gone")
    refused(client, path_of(link_from(mailoutbox, "off@acme.example")), 410, "gone")


def test_resend_replaces_the_link_and_revoke_closes_it_from_the_members_tab(client, mailoutbox):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    _, first = invite(org, "bob@acme.example")
    old_link = path_of(link_from(mailoutbox, "bob@acme.example"))
    client.login(username="owner@acme.example", password=builders.PASSWORD)
    tab = client.get(reverse("admin:org-settings-members", args=[org.uid])).content.decode()
    assert 'data-invitation="bob@acme.example"' in tab and "Resend" in tab and "Revoke" in tab

    response = client.post(reverse("admin:invitation-resend", args=[org.uid, first.pk]))
    assert response.status_code == 302
    new_link = path_of(link_from(mailoutbox, "bob@acme.example"))
    assert new_link != old_link
    second = Invitation.objects.get(accepted_at=None, revoked_at=None)
    client.post(reverse("admin:invitation-revoke", args=[org.uid, second.pk]))
    client.logout()
    old_page = refused(client, old_link, 410, "replaced")
    assert "replaced by a newer invitation" in old_page and "withdrew" not in old_page
    refused(client, new_link, 410, "revoked")
    assert {"invitation.resend", "invitation.revoke"} <= set(AuditEvent.objects.values_list("action", flat=True))


def test_another_orgs_admin_cannot_resend_or_revoke(client, mailoutbox):
    org = builders.make_org("Acme")
    other = builders.make_org("Globex", owner_email="owner@globex.example")
    _, invitation = invite(org)
    client.login(username="owner@globex.example", password=builders.PASSWORD)
    for name in ("admin:invitation-resend", "admin:invitation-revoke"):
        assert client.post(reverse(name, args=[org.uid, invitation.pk])).status_code == 404
        assert client.post(reverse(name, args=[other.uid, invitation.pk])).status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_an_smtp_outage_retries_and_loses_no_invitation(smtp_server, client):
    from config.celery import app
    org = builders.make_org("Acme")
    smtp_server.stop()  # the SMTP server is down while the invitation is made
    _, invitation = invite(org, "later@acme.example")  # eager here: one attempt, logged, never a 500
    assert Invitation.objects.get().send_attempts == 1
    # What a worker does with the failed task: retry it (with backoff; at once
    # when applied eagerly) until max_retries.
    app.conf.task_eager_propagates = False  # let the eager retries run
    try:
        result = send_invitation_email.apply(args=[invitation.pk])
    finally:
        app.conf.task_eager_propagates = True
    assert result.failed()
    invitation.refresh_from_db()
    assert invitation.sent_at is None and invitation.accepted_at is None and invitation.revoked_at is None
    assert invitation.send_attempts == 1 + send_invitation_email.max_retries + 1  # every retry tried again
    assert "Connection refused" in invitation.last_error or "Errno" in invitation.last_error
    assert AuditEvent.objects.filter(action="invitation.delivery_failed").count() == 1

    smtp_server.start()  # back: the next retry delivers a working link
    assert send_invitation_email.apply(args=[invitation.pk]).get() is True
    url = smtp_server.link("later@acme.example")
    assert client.get(path_of(url)).status_code == 200
    assert send_invitation_email.apply(args=[invitation.pk]).get() is False  # delivered once, never again
    assert len(smtp_server.messages) == 1


def test_the_expiry_sweep_closes_expired_links_which_stay_listed_for_resend(client, mailoutbox):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    _, old = invite(org, "slow@acme.example")
    invite(org, "fresh@acme.example")
    link = path_of(link_from(mailoutbox, "slow@acme.example"))
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))

    assert invitations.expire_invitations() == 1
    assert invitations.expire_invitations() == 0  # idempotent
    assert AuditEvent.objects.filter(action="invitation.expire").count() == 1
    refused(client, link, 410, "expired")
    client.login(username="owner@acme.example", password=builders.PASSWORD)
    tab = client.get(reverse("admin:org-settings-members", args=[org.uid])).content.decode()
    assert 'data-invitation="slow@acme.example"' in tab and "Expired" in tab
    client.post(reverse("admin:invitation-resend", args=[org.uid, old.pk]))
    tab = client.get(reverse("admin:org-settings-members", args=[org.uid])).content.decode()
    assert tab.count('data-invitation="slow@acme.example"') == 1 and "Pending invitations (2)" in tab


def test_pending_invitations_page_newest_first_with_links_between_pages(client, mailoutbox):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    for i in range(INVITATIONS_PER_PAGE + 5):
        invite(org, f"p{i:02}@acme.example")
    client.login(username="owner@acme.example", password=builders.PASSWORD)
    url = reverse("admin:org-settings-members", args=[org.uid])
    first = client.get(url).content.decode()
    listed = re.findall(r'data-invitation="(p\d\d)@acme.example"', first)
    assert listed == [f"p{i:02}" for i in range(INVITATIONS_PER_PAGE + 4, 4, -1)]  # the newest 20
    assert f"Pending invitations ({INVITATIONS_PER_PAGE + 5})" in first and "Page 1 of 2" in first
    assert "?invitations_page=2#pending-invitations" in first and "invitations_page=0" not in first
    second = client.get(url + "?invitations_page=2").content.decode()
    assert re.findall(r'data-invitation="(p\d\d)@acme.example"', second) == ["p04", "p03", "p02", "p01", "p00"]
    assert "Page 2 of 2" in second and "?invitations_page=1#pending-invitations" in second
    assert "invitations_page=3" not in second
    # A page past the end shows the last one; no number, the first.
    past = client.get(url + "?invitations_page=99").content.decode()
    assert re.findall(r'data-invitation="(p\d\d)@acme.example"', past)[0] == "p04" and "Page 2 of 2" in past
    assert re.findall(r'data-invitation="(p\d\d)@acme.example"', client.get(url + "?invitations_page=x").content.decode()) == listed
