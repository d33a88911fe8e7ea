"""Provisioning activity: one row per SCIM call, shown on the SCIM tab."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scim.models import ProvisioningEvent
from tests import builders

from .helpers import new_user, patch_body

pytestmark = pytest.mark.django_db


def test_each_call_records_operation_target_and_outcome(scim, org, member):
    scim.post("/Users", new_user("jane@x.com"))
    scim.post("/Users", new_user("JANE@x.com"))
    scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "value": {"active": False}}))
    gid = scim.post("/Groups", {"displayName": "Eng"}).json()["id"]
    scim.patch(f"/Groups/{gid}", patch_body({"op": "add", "path": "members", "value": [{"value": str(member.pk)}]}))
    scim.get("/Users", {"filter": 'userName eq "x@y.com"'})
    rows = list(ProvisioningEvent.objects.filter(organization=org).order_by("id"))
    summary = [(r.operation, r.target, r.outcome, r.status) for r in rows]
    assert summary == [
        ("Create user", "jane@x.com", "success", 201),
        ("Create user", "JANE@x.com", "failure", 409),
        ("Deactivate user", "bob@acme.example", "success", 200),
        ("Create group", "Eng", "success", 201),
        ("Update group members", "Eng", "success", 204),
        ("Look up users", 'userName eq "x@y.com"', "success", 200),
    ]
    assert "already taken" in rows[1].detail
    assert all(r.installation_id and r.method and r.path.startswith("/scim/v2/") for r in rows)


def test_unauthenticated_calls_are_recorded_later_as_unknown_token(client, org, scim):
    """Nothing is written on a refused call's way (tests/scim/api/test_refused_calls.py
    has the rest): its entry waits for the window, or the SCIM tab, to be written."""
    from scim import activity

    client.get(f"/scim/v2/organizations/{org.uid}/Users", HTTP_AUTHORIZATION="Bearer nope")
    assert not ProvisioningEvent.objects.exists()
    activity.flush()
    assert list(ProvisioningEvent.objects.values_list("installation_id", "status", "operation")) == [
        (None, 401, "List users")]


def test_prune_command_deletes_only_expired_entries(scim, org, settings):
    settings.SCIM_ACTIVITY_RETENTION_DAYS = 7
    scim.get("/Users")
    scim.get("/Groups")
    old = ProvisioningEvent.objects.order_by("id").first()
    ProvisioningEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    call_command("prune_provisioning_activity")
    assert list(ProvisioningEvent.objects.values_list("operation", flat=True)) == ["List groups"]


def test_scim_tab_lists_activity_filterable_by_outcome(scim, org, owner):
    scim.post("/Users", new_user("ok@x.com"))
    scim.post("/Users", {"userName": 5})
    browser = Client()
    browser.login(username=owner.user.email, password=builders.PASSWORD)
    url = reverse("admin:org-settings-scim", args=[org.uid])
    page = browser.get(url).content.decode()
    assert "Provisioning activity" in page
    assert "Writes and failures" in page and "All requests" in page
    assert "ok@x.com" in page and "Failed (400)" in page
    # The activity list (Provisioning health above it names the last success whatever the filter).
    failures = browser.get(url, {"outcome": "failure"}).content.decode().split('id="provisioning-activity"')[1]
    assert "Failed (400)" in failures and "ok@x.com" not in failures
    assert "must be a string" in failures  # the error detail an admin needs


def test_a_user_write_records_its_entry_with_the_change_once(scim, org, member):
    """A write that changed something writes its entry in the statement of the
    change (scim.activity.entry_with_change), named as any other, and only once."""
    from organizations.audit_actions import SCIM_USER_UPDATE
    from organizations.models import AuditEvent

    body = new_user("bob@acme.example", password="hunter2")
    body["name"] = {"givenName": "Robert"}
    assert scim.put(f"/Users/{member.pk}", body).status_code == 200
    assert scim.put(f"/Users/{member.pk}", body).status_code == 200  # unchanged: written by the middleware
    rows = list(ProvisioningEvent.objects.filter(organization=org).order_by("id"))
    assert [(r.operation, r.target, r.outcome, r.status, r.detail) for r in rows] == [
        ("Update user", "bob@acme.example", "success", 200, "ignored: password"),
        ("Update user", "bob@acme.example", "success", 200, "ignored: password"),
    ]
    assert all(r.installation_id and r.path == f"/scim/v2/organizations/{org.uid}/Users/{member.pk}" for r in rows)
    event = AuditEvent.objects.get(action=SCIM_USER_UPDATE, target_id=str(member.pk))
    assert event.after["givenName"] == "Robert" and event.org_uid == org.uid and event.request_id


@pytest.mark.parametrize("failing", ["after the change", "the response"])
def test_a_user_write_that_fails_after_its_change_records_the_failure_only(scim, org, member, monkeypatch, failing):
    """The entry written with the change goes with it when the call then fails
    (its transaction rolls back): the call is recorded once, as the failure it
    was, and nothing of the change is kept. A failure after the commit (the
    response) keeps the change and records both what was written and the failure."""
    from organizations.audit_actions import SCIM_USER_DEACTIVATE
    from organizations.models import AuditEvent, Membership
    from scim import provisioning
    from scim.api.views import users

    def boom(*args, **kwargs):
        raise RuntimeError("down")

    if failing == "after the change":
        monkeypatch.setattr(provisioning, "_announce_active", boom)  # the receivers, after the UPDATE
    else:
        monkeypatch.setattr(users.UsersView, "render", boom)
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "value": {"active": False}}))
    assert response.status_code == 500
    rows = list(ProvisioningEvent.objects.filter(organization=org).values_list("operation", "outcome", "status"))
    deactivated = not Membership.objects.get(pk=member.pk).active
    audited = AuditEvent.objects.filter(action=SCIM_USER_DEACTIVATE, target_id=str(member.pk)).exists()
    if failing == "after the change":
        assert rows == [("Deactivate user", "failure", 500)]
        assert not deactivated and not audited
    else:
        assert sorted(rows) == [("Deactivate user", "failure", 500), ("Deactivate user", "success", 200)]
        assert deactivated and audited
