"""Successful reads reach the activity list in batches (scim.activity): one
INSERT for many lookups, never later than SCIM_ACTIVITY_READ_DELAY, at once when
the SCIM tab is opened; writes and failures are written at once."""
from __future__ import annotations

import time

import psycopg
import pytest
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scim import activity, rawsql
from scim.models import ProvisioningEvent
from tests import builders

from .helpers import new_user

pytestmark = [pytest.mark.django_db, pytest.mark.activity_batching]


@pytest.fixture(autouse=True)
def batching(settings):
    settings.SCIM_ACTIVITY_READ_BATCH = 3
    settings.SCIM_ACTIVITY_READ_DELAY = 600  # the timer does not fire unless a test says so
    activity.flush()
    yield
    activity._reads.take()  # nothing carries over to the next test


def inserts(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "INSERT INTO" in q["sql"] and "scim_provisioningevent" in q["sql"]]


def test_reads_wait_and_are_written_together_in_one_insert(scim, org):
    scim.get("/Users", {"filter": 'userName eq "a@x.com"'})
    scim.get("/Users", {"filter": 'userName eq "b@x.com"'})
    assert not ProvisioningEvent.objects.filter(organization=org).exists()
    with CaptureQueriesContext(connection) as ctx:
        scim.get("/Users", {"filter": 'userName eq "c@x.com"'})
    assert len(inserts(ctx)) == 1
    targets = list(ProvisioningEvent.objects.filter(organization=org).order_by("created_at").values_list("target", flat=True))
    assert targets == ['userName eq "a@x.com"', 'userName eq "b@x.com"', 'userName eq "c@x.com"']


def test_writes_and_failures_are_written_at_once(scim, org):
    scim.get("/Users")
    assert scim.post("/Users", new_user("jane@x.com")).status_code == 201
    assert scim.get("/Users/999999").status_code == 404
    written = set(ProvisioningEvent.objects.filter(organization=org).values_list("operation", "status"))
    assert written == {("Create user", 201), ("Get user", 404)}  # the successful list still waits


def test_opening_the_scim_tab_writes_what_waits(scim, org, owner):
    scim.get("/Users", {"filter": 'userName eq "waiting@x.com"'})
    browser = Client()
    browser.login(username=owner.user.email, password=builders.PASSWORD)
    url = reverse("admin:org-settings-scim", args=[org.uid])
    page = browser.get(url, {"activity": "all"}).content.decode()  # reads are listed under "All requests"
    assert "waiting@x.com" in page


def test_the_timer_writes_reads_within_the_delay(scim, org, settings, monkeypatch):
    settings.SCIM_ACTIVITY_READ_DELAY = 0.2
    written = []
    # the timer thread has a database connection of its own, outside this test's transaction
    monkeypatch.setattr(activity, "_write", written.extend)
    scim.get("/Users", {"filter": 'userName eq "late@x.com"'})
    deadline = time.monotonic() + 5
    while not written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [row["target"] for row in written] == ['userName eq "late@x.com"']
    assert activity._reads.timer is None


def test_a_batch_that_cannot_be_written_does_not_fail_the_call(scim, org, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(activity.rawsql, "insert", broken)
    for name in ("a", "b", "c"):
        assert scim.get("/Users", {"filter": f'userName eq "{name}@x.com"'}).status_code == 200
    assert "Could not record provisioning activity (3 entries)" in caplog.text


def event_row(org_id: int, target: str) -> dict:
    return {
        "organization_id": org_id, "installation_id": None, "created_at": timezone.now(), "method": "GET",
        "path": "/scim/v2/x", "operation": "Look up users", "target": target, "status": 200,
        "outcome": "success", "detail": "", "duration_ms": 1, "occurrences": 1,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_asynchronous_commit_on_postgresql_commits_and_recovers_from_errors(org):
    """Outside a transaction the rows are committed with synchronous_commit off;
    a failed INSERT (here a foreign key checked at COMMIT) leaves the connection
    out of its BEGIN, usable for the next request."""
    with pytest.raises(IntegrityError):
        rawsql.insert(activity.EVENT, [event_row(2**62, "nobody")], durable=False)
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    rawsql.insert(activity.EVENT, [event_row(org.pk, "a"), event_row(org.pk, "b")], durable=False)
    assert sorted(ProvisioningEvent.objects.filter(organization=org).values_list("target", flat=True)) == ["a", "b"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # SET LOCAL: the connection's setting is untouched
