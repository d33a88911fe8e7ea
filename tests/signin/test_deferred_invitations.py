"""Invitations owed by SCIM pushes: the request records only that one is owed
(Membership.invitation_due, in the write itself); one worker run per burst
builds the invitations and sends them, exactly once, within the minute."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client

from organizations.models import AuditEvent, Membership
from organizations.signin import due_invitations
from organizations.signin.models import Invitation
from tests import builders

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    def __init__(self, org):
        self.base = f"/scim/v2/organizations/{org.uid}"
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {builders.bare_scim_token(org)}"}
        self.client = Client()

    def post_user(self, email: str):
        body = {"schemas": [USER], "userName": email, "emails": [{"value": email, "primary": True}], "active": True}
        response = self.client.post(self.base + "/Users", json.dumps(body), content_type="application/scim+json", **self.headers)
        assert response.status_code == 201, response.content
        return response.json()

    def set_active(self, pk, active: bool):
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": active}}]}
        response = self.client.patch(f"{self.base}/Users/{pk}", json.dumps(body), content_type="application/scim+json", **self.headers)
        assert response.status_code == 200, response.content


@pytest.fixture
def scim(org):
    return Scim(org)


@pytest.fixture
def queued(monkeypatch):
    """Tasks go to a broker (recorded here) instead of running eagerly."""
    sent = []
    monkeypatch.setattr(due_invitations, "tasks_run_eagerly", lambda: False)
    monkeypatch.setattr(
        due_invitations.deliver_due_invitations, "apply_async", lambda args=(), countdown=None, **kw: sent.append(countdown)
    )
    from django.core.cache import cache

    cache.delete(due_invitations.DUE_KICK_KEY)
    return sent


def test_a_push_is_invited_by_the_worker_exactly_once(scim, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = scim.post_user("ada@acme.example")
    invitation = Invitation.objects.get(membership_id=user["id"])
    assert invitation.sent_at is not None and invitation.source == "scim"
    assert [m.to for m in mailoutbox] == [["ada@acme.example"]]
    assert not Membership.objects.get(pk=user["id"]).invitation_due
    assert list(AuditEvent.objects.filter(target_type="organizations.invitation", target_id=str(invitation.pk)).values_list("action", flat=True).order_by("pk")) == [
        "invitation.create", "invitation.deliver"
    ]
    # Any later run (the beat sweep, a redelivered task) sends nothing again.
    assert due_invitations.deliver_due_invitations.apply().get() == (0, 0)
    assert len(mailoutbox) == 1


def test_a_burst_of_pushes_enqueues_one_task_and_one_run_invites_them_all(
    scim, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ids = [scim.post_user(f"p{i}@acme.example")["id"] for i in range(5)]
    assert queued == [django_settings.INVITATION_BATCH_SECONDS]  # one task for the burst, not one per user
    assert not Invitation.objects.exists() and not mailoutbox  # nothing built or sent in the requests
    assert Membership.objects.filter(pk__in=ids, invitation_due=True).count() == 5
    assert due_invitations.deliver_due_invitations.apply().get() == (5, 5)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f"p{i}@acme.example" for i in range(5))
    assert Invitation.objects.filter(sent_at__isnull=False).count() == 5
    # The run cleared the kick: the next push schedules the next run.
    with django_capture_on_commit_callbacks(execute=True):
        scim.post_user("late@acme.example")
    assert len(queued) == 2


def test_invitations_are_sent_within_a_minute_even_if_the_task_is_lost():
    """The burst's run starts INVITATION_BATCH_SECONDS after the first push; beat
    sweeps every INVITATION_SWEEP_SECONDS whatever happened to that task."""
    sweep = django_settings.CELERY_BEAT_SCHEDULE["deliver-due-invitations"]
    assert sweep["task"] == due_invitations.deliver_due_invitations.name
    assert sweep["schedule"] <= timedelta(seconds=30)
    assert django_settings.INVITATION_BATCH_SECONDS < 60


def test_no_invitation_for_a_member_deactivated_before_the_run(scim, queued, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = scim.post_user("gone@acme.example")
        scim.set_active(user["id"], False)
    assert due_invitations.deliver_due_invitations.apply().get() == (0, 0)
    assert not Invitation.objects.exists() and not mailoutbox
    assert not Membership.objects.get(pk=user["id"]).invitation_due


def test_reactivation_over_scim_invites_again_through_the_worker(scim, queued, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = scim.post_user("back@acme.example")
    due_invitations.deliver_due_invitations.apply()
    first = Invitation.objects.get(membership_id=user["id"])
    with django_capture_on_commit_callbacks(execute=True):
        scim.set_active(user["id"], False)
        scim.set_active(user["id"], True)
    assert Membership.objects.get(pk=user["id"]).invitation_due
    assert due_invitations.deliver_due_invitations.apply().get() == (1, 1)
    first.refresh_from_db()
    assert first.revoked_at is not None  # deactivation ended the first link
    assert Invitation.objects.filter(membership_id=user["id"], revoked_at__isnull=True, sent_at__isnull=False).count() == 1
    assert [m.to[0] for m in mailoutbox] == ["back@acme.example", "back@acme.example"]


def test_the_org_switch_off_means_no_invitation(scim, org, queued, mailoutbox, django_capture_on_commit_callbacks):
    org.invite_provisioned_members = False
    org.save(update_fields=["invite_provisioned_members"])
    with django_capture_on_commit_callbacks(execute=True):
        user = scim.post_user("sso@acme.example")
    assert queued == [] and not Membership.objects.get(pk=user["id"]).invitation_due
