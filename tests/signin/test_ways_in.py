"""Every member has a way in, and the Members tab says which: the
Sign-in column at a constant number of queries, "Send invitation" one at a time
and for everyone without a way in (a background task with progress), the
choose-a-password link of "Forgot password" for a member with none, and the
labels that tell the truth (role sources, invited not joined, replaced links,
the wrong-password words, password sign-ins in the Audit log's Sign-ins)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from organizations import services
from organizations.models import AuditEvent, Membership, OrgRole
from organizations.signin import ways_in
from organizations.signin.models import Invitation
from organizations.signin.saml.models import SsoSettings
from tests import builders

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https?://\S+")
NEW_PASSWORD = "a-fresh-and-long-passphrase-77"


def invite(member):
    """Send invitation, and its e-mail (scheduled on commit) at once."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return ways_in.send_invitation(Membership.objects.select_related("user", "organization").get(pk=member.pk),
                                       actor=None)


def members_url(org) -> str:
    return reverse("admin:org-settings-members", args=[org.uid])


def row_of(page: str, email: str) -> str:
    match = re.search(rf'<tr data-member="{re.escape(email)}".*?</tr>', page, re.S)
    assert match, f"no row for {email}"
    return match.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def org():
    return builders.make_org("Acme", owner_email="owner@acme.example")


@pytest.fixture
def owner_client(client, org):
    client.login(username="owner@acme.example", password=builders.PASSWORD)
    return client


def enable_sso(org) -> SsoSettings:
    return SsoSettings.objects.create(
        organization=org, signin_name="acme", enabled=True, idp_entity_id="https://idp.example/acme",
        idp_sso_url="https://idp.example/sso", idp_x509_cert="MIIC",
    )


# --- the Sign-in column ---------------------------------------------------------------------


def test_the_sign_in_column_names_each_way_in(owner_client, org, mailoutbox):
    builders.make_member(org, "pw@acme.example")
    builders.make_provisioned(org, "none@acme.example")
    invited = builders.make_provisioned(org, "invited@acme.example")
    invite(invited)
    expired = builders.make_provisioned(org, "expired@acme.example")
    invite(expired)
    Invitation.objects.filter(membership=expired).update(expires_at=timezone.now() - timedelta(hours=1))
    off = builders.make_provisioned(org, "off@acme.example")
    services.set_member_active(off, False, actor=None)

    page = owner_client.get(members_url(org)).content.decode()
    assert "<th scope=\"col\">Sign-in</th>" in page
    assert "Password set" in text(row_of(page, "pw@acme.example"))
    assert "Active" in text(row_of(page, "pw@acme.example"))
    none = row_of(page, "none@acme.example")
    assert "No way in yet" in text(none) and 'value="Send invitation"' in none
    assert "Active" in text(none)  # no invitation: nothing says invited
    sent = text(row_of(page, "invited@acme.example"))
    assert "Invited sent" in sent and "Invited, not joined yet" in sent and "Send invitation" not in sent
    gone = text(row_of(page, "expired@acme.example"))
    assert "Invitation expired" in gone and "Invited, not joined yet" in gone
    assert 'value="Send invitation"' in row_of(page, "expired@acme.example")
    assert "Deactivated" in text(row_of(page, "off@acme.example"))
    assert "Send invitation" not in row_of(page, "off@acme.example")


def test_with_sso_everyone_signs_in_through_it(owner_client, org):
    builders.make_provisioned(org, "none@acme.example")
    enable_sso(org)
    page = owner_client.get(members_url(org)).content.decode()
    row = text(row_of(page, "none@acme.example"))
    assert "Signs in through SSO" in row and "No way in yet" not in row and "Send invitation" not in row
    assert "Password set and single sign-on" in text(row_of(page, "owner@acme.example"))
    assert 'id="invite-all-form"' not in page


def add_mixed_members(org, start: int, n: int) -> None:
    for i in range(start, start + n):
        member = builders.make_provisioned(org, f"p{i:03}@acme.example")
        if i % 3 == 0:
            invite(member)
        elif i % 3 == 1:
            member.user.set_password(builders.PASSWORD)
            member.user.save()


def test_the_column_costs_a_constant_number_of_queries(owner_client, org):
    """A page of 5 and a page of 40 members, each a mix of ways in: the same
    statements, one of them for the page's invitations."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for start, n in ((0, 5), (5, 35)):
        add_mixed_members(org, start, n)
        owner_client.get(members_url(org))  # warm the session
        with CaptureQueriesContext(connection) as queries:
            page = owner_client.get(members_url(org)).content.decode()
        assert page.count('class="way-in ') == start + n + 1  # and the Owner
        sql = [q["sql"] for q in queries.captured_queries]
        # The page's ways in: one statement; the pending list: its count and page.
        assert len([q for q in sql if "invitation" in q.lower()]) == 3, sql
        counts.append(len(sql))
    assert counts[0] == counts[1], counts


# --- Send invitation -------------------------------------------------------------------------


def test_send_invitation_lets_the_person_choose_a_password(owner_client, org, mailoutbox):
    from django.test import TestCase

    member = builders.make_provisioned(org, "none@acme.example")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("admin:member-invite", args=[org.uid, member.pk]),
                                     {"next": members_url(org)}, follow=True)
    assert messages_of(response) == [
        "An invitation is on its way to none@acme.example: its link lets them choose a password."
    ]
    row = text(row_of(response.content.decode(), "none@acme.example"))
    assert "Invited" in row and "No way in yet" not in row
    body = next(m.body for m in mailoutbox if "none@acme.example" in m.to)
    link = LINK.findall(body)[0].split("testserver", 1)[-1].split("://", 1)[-1]
    link = link[link.index("/"):] if not link.startswith("/") else link
    owner_client.logout()
    page = owner_client.get(link)
    assert b"new_password1" in page.content
    owner_client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)


def test_send_invitation_is_refused_to_someone_with_a_password_and_needs_post(owner_client, org):
    member = builders.make_member(org, "pw@acme.example")
    url = reverse("admin:member-invite", args=[org.uid, member.pk])
    assert owner_client.get(url).status_code == 405
    response = owner_client.post(url, follow=True)
    assert "already has a password" in messages_of(response)[0]
    assert not Invitation.objects.filter(membership=member).exists()


def test_send_invitation_is_scoped_to_the_org(owner_client, org):
    other = builders.make_org("Globex")
    stranger = builders.make_provisioned(other, "x@globex.example")
    assert owner_client.post(reverse("admin:member-invite", args=[org.uid, stranger.pk])).status_code == 404
    assert owner_client.post(reverse("admin:member-invite", args=[other.uid, stranger.pk])).status_code == 404


def test_the_member_page_offers_send_invitation(owner_client, org):
    member = builders.make_provisioned(org, "none@acme.example")
    page = owner_client.get(reverse("admin:member-detail", args=[org.uid, member.pk])).content.decode()
    assert "No way in yet" in page and 'name="back" value="member"' in page
    response = owner_client.post(reverse("admin:member-invite", args=[org.uid, member.pk]), {"back": "member"})
    assert response["Location"].startswith(reverse("admin:member-detail", args=[org.uid, member.pk]))


def test_bulk_invitations_page_through_the_org_with_progress(owner_client, org, mailoutbox, monkeypatch):
    monkeypatch.setattr(ways_in, "BATCH_SIZE", 2)
    for i in range(5):
        builders.make_provisioned(org, f"n{i}@acme.example")
    already = builders.make_provisioned(org, "already@acme.example")
    invite(already)
    builders.make_member(org, "pw@acme.example")
    seen = []
    real_save = ways_in._save_progress
    monkeypatch.setattr(ways_in, "_save_progress", lambda org_id, record: (seen.append(dict(record)),
                                                                           real_save(org_id, record)))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("admin:members-invite-all", args=[org.uid]))
    assert response.status_code == 302
    assert [(r["sent"], r["total"]) for r in seen if r["status"] == "running" and r["total"]] == [
        (0, 5), (2, 5), (4, 5), (5, 5)
    ]
    assert seen[-1]["status"] == "done" and seen[-1]["sent"] == 5
    invited = {m.to[0] for m in mailoutbox}
    assert {f"n{i}@acme.example" for i in range(5)} <= invited and "pw@acme.example" not in invited
    assert Invitation.objects.filter(membership=already).count() == 1  # its open link is kept
    page = owner_client.get(members_url(org)).content.decode()
    assert "Done: 5 invitations sent to members without a way in" in text(page)
    assert "way-in-none" not in page
    assert AuditEvent.objects.filter(action="invitation.create", organization=org).count() == 6


def test_bulk_invitations_refused_while_running_and_with_sso(owner_client, org):
    owner = builders.owner_of(org).user
    ways_in._save_progress(org.pk, {"status": "running", "sent": 1, "total": 3, "by": "x"})
    page = owner_client.get(members_url(org)).content.decode()
    assert "Sending invitations: 1 of 3 sent" in text(page)
    with pytest.raises(services.ServiceError):
        ways_in.start_bulk_invitations(org, actor=owner)
    ways_in._save_progress(org.pk, {"status": "done", "sent": 1, "total": 1, "by": "x"})
    enable_sso(org)
    with pytest.raises(services.ServiceError, match="single sign-on"):
        ways_in.start_bulk_invitations(org, actor=owner)


# --- Forgot password ------------------------------------------------------------------------


def test_forgot_password_sends_a_passwordless_member_a_choose_a_password_link(client, org, mailoutbox):
    from organizations.signin.tasks import send_password_reset_email_to

    member = builders.make_provisioned(org, "none@acme.example")
    assert send_password_reset_email_to("None@acme.example") is True
    message = mailoutbox[-1]
    assert message.to == ["none@acme.example"] and message.subject == "Choose your Orgdesk password"
    path = "/" + LINK.findall(message.body)[0].split("://", 1)[1].split("/", 1)[1]
    form = client.get(path, follow=True)
    assert b"new_password1" in form.content
    client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)


def test_forgot_password_sends_nothing_where_no_org_allows_a_password(org, mailoutbox):
    from organizations.signin.tasks import send_password_reset_email_to

    member = builders.make_provisioned(org, "none@acme.example")
    sso = enable_sso(org)
    sso.strict = True
    sso.save()
    assert send_password_reset_email_to("none@acme.example") is False
    services.set_member_active(member, False, actor=None)
    assert send_password_reset_email_to("none@acme.example") is False
    assert mailoutbox == []


# --- labels --------------------------------------------------------------------------------


def test_role_sources_say_default_role_unless_a_person_granted_it(owner_client, org):
    builders.make_provisioned(org, "pushed@acme.example")
    admin = builders.make_member(org, "admin@acme.example", role=OrgRole.ADMIN)
    page = owner_client.get(members_url(org)).content.decode()
    pushed = text(row_of(page, "pushed@acme.example"))
    assert "default role" in pushed and "granted by hand" not in pushed
    assert "granted by hand" in text(row_of(page, admin.user.email))


def test_adding_a_deactivated_member_again_points_to_reactivate(owner_client, org):
    member = builders.make_member(org, "gone@acme.example")
    services.set_member_active(member, False, actor=None)
    response = owner_client.post(members_url(org), {
        "form": "add-member", "add-member-email": "gone@acme.example", "add-member-role": "member",
        "add-member-first_name": "Gone", "add-member-last_name": "Again",
    })
    page = response.content.decode()
    assert "gone@acme.example is already a member of Acme (deactivated). Reactivate them on their page" in page
    detail = reverse("admin:member-detail", args=[org.uid, member.pk])
    assert f'href="{detail}?next=' in page and 'class="already-member-link"' in page


def test_a_resent_link_says_it_was_replaced(client, org, mailoutbox):
    member = builders.make_provisioned(org, "none@acme.example")
    first = invite(member)
    old = "/" + LINK.findall(mailoutbox[-1].body)[0].split("://", 1)[1].split("/", 1)[1]
    invite(member)
    first.refresh_from_db()
    assert first.revoked_reason == "replaced by a newer invitation"
    page = client.get(old)
    assert page.status_code == 410 and b'data-refusal="replaced"' in page.content
    assert b"replaced by a newer invitation" in page.content and b"withdrew" not in page.content


def test_a_wrong_password_uses_orgdesks_words(client, org):
    response = client.post(reverse("admin:login"), {"username": "owner@acme.example", "password": "wrong"})
    page = response.content.decode()
    assert "That e-mail and password do not match" in page and "staff account" not in page


def test_the_sign_ins_kind_lists_password_sign_ins(client, org):
    client.post(reverse("admin:login"), {"username": "owner@acme.example", "password": builders.PASSWORD})
    other = builders.make_org("Globex")
    assert AuditEvent.objects.filter(action="account.signin", organization=org).count() == 1
    assert not AuditEvent.objects.filter(action="account.signin", organization=other).exists()
    response = client.get(reverse("admin:org-settings-audit", args=[org.uid]), {"kind": "signins"})
    assert "owner@acme.example signed in with their password" in response.content.decode()
