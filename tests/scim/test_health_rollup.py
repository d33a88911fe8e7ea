"""The health chart reads hours rolled up by beat (scim.health_rollup) plus the
raw activity after each org's watermark: the same chart as summing every
call, in the same four statements whatever the org stores; rolling is
idempotent, waits for the activity buffers, stays inside the retention, and
one org's failure does not stop the others."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.models import Organization
from scim import health_rollup
from scim.health import health_context
from scim.health_rollup import margin, prune_rollups, rollable_until, roll_up, roll_up_all
from scim.models import AppInstallation, MarketplaceApp, ProvisioningEvent, ProvisioningHour, ProvisioningRollup
from scim.tasks import prune_provisioning_activity, rollup_provisioning_health
from tests import builders
from tests.plans import explain, nodes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 14, 37, 12, 345678, tzinfo=dt_timezone.utc)
HOUR = timedelta(hours=1)
# (status, outcome, method, operation, occurrences): every kind of the chart.
CALLS = (
    (200, "success", "GET", "List users", 1),
    (201, "success", "POST", "Create user", 1),
    (204, "success", "PATCH", "Update group", 1),
    (400, "failure", "PATCH", "Update user", 1),
    (409, "failure", "POST", "Create user", 1),
    (401, "failure", "GET", "List users", 25),  # refused calls, coalesced
    (429, "failure", "GET", "List users", 7),
    (500, "failure", "PATCH", "Update user", 1),
    (503, "failure", "GET", "Get user", 1),
)


@pytest.fixture(autouse=True)
def _delays(settings, monkeypatch):
    """The production delays (the suite's own refused-call window is an hour),
    and activity stored at the times the test gives (created_at is auto_now_add)."""
    settings.SCIM_ACTIVITY_READ_DELAY = 2
    settings.SCIM_ACTIVITY_FAILURE_WINDOW = 60
    settings.SCIM_HEALTH_ROLLUP_MARGIN = 180
    settings.SCIM_ACTIVITY_RETENTION_DAYS = 30
    monkeypatch.setattr(ProvisioningEvent._meta.get_field("created_at"), "auto_now_add", False)


def okta(org) -> AppInstallation:
    return AppInstallation.objects.create(organization=org, app=MarketplaceApp.objects.get(slug="okta-generic-scim"))


def call(org, installation, when: datetime, kind: int = 0, *, target: str = "ada@example.com") -> ProvisioningEvent:
    status, outcome, method, operation, occurrences = CALLS[kind]
    return ProvisioningEvent(
        organization=org, installation=installation if status not in (401, 429) else None, created_at=when,
        method=method, path="/scim/v2/Users", operation=operation, target=target, status=status, outcome=outcome,
        detail="" if outcome == "success" else f"answered {status}", occurrences=occurrences,
    )


def random_activity(org, rng: random.Random, n: int) -> list[ProvisioningEvent]:
    """n calls over the last 31 days, mostly successes, plus calls on the very
    edges of hours (the first and the last microsecond) and of the day."""
    installation = okta(org)
    span = int(timedelta(days=31).total_seconds())
    rows = []
    for i in range(n):
        kind = 0 if rng.random() < 0.6 else rng.randrange(len(CALLS))
        rows.append(call(org, installation, NOW - timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6)),
                         kind, target=f"u{i}@example.com"))
    this_hour = NOW.replace(minute=0, second=0, microsecond=0)
    for back in (0, 1, 2, 5, 14, 23, 24, 25, 24 * 7, 24 * 29, 24 * 30):
        start = this_hour - back * HOUR
        rows.append(call(org, installation, start, rng.randrange(len(CALLS)), target=f"edge-start-{back}"))
        rows.append(call(org, installation, start - timedelta(microseconds=1), rng.randrange(len(CALLS)),
                         target=f"edge-end-{back}"))
    return ProvisioningEvent.objects.bulk_create(rows)


def chart(org, now: datetime = NOW) -> dict:
    """What the tab shows of the health context, comparable."""
    context = health_context(org, now=now)
    return {
        "charts": [
            (c.key, c.total, c.summary, c.peak, [(b.start, b.label, b.counts) for b in c.buckets],
             [(bar.title, [(r.kind, r.y, r.height) for r in bar.rects]) for bar in c.bars])
            for c in context["health_charts"]
        ],
        "last_success": context["health_last_success"],
        "last_failure": context["health_last_failure"],
        "failing": context["health_failing"],
    }


def rolled(org) -> dict:
    return {h.hour: (h.success, h.refused, h.denied, h.failed) for h in ProvisioningHour.objects.filter(organization=org)}


def watermark(org) -> datetime | None:
    return ProvisioningRollup.objects.filter(organization=org).values_list("until", flat=True).first()


def test_the_chart_is_the_same_with_rollups_at_any_watermark():
    rng = random.Random(7)
    orgs = [builders.make_org(f"Org {i}") for i in range(3)]
    rows = {org.pk: random_activity(org, rng, 500) for org in orgs}
    quiet = builders.make_org("Only failures")
    ProvisioningEvent.objects.bulk_create([call(quiet, None, NOW - timedelta(days=d, minutes=3), 5) for d in (2, 12)])
    orgs.append(quiet)
    raw = {org.pk: chart(org) for org in orgs}  # nothing rolled up yet: every call read raw

    day_start = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    for org in orgs:
        chart_30d = raw[org.pk]["charts"][1]
        counted = sum(r.occurrences for r in rows.get(org.pk, []) if day_start - timedelta(days=29) <= r.created_at)
        assert chart_30d[1] == (counted if org is not quiet else 50)

    # Watermarks: in an earlier day, mid-day (09:00 today), then where beat keeps it.
    for rolled_at in (NOW - timedelta(days=11, hours=3), day_start + timedelta(hours=9, minutes=10), NOW):
        roll_up_all(now=rolled_at)
        expected = (rolled_at - margin()).replace(second=0, microsecond=0)
        for org in orgs:
            # An org with nothing new keeps its older watermark: the chart reads more raw rows, the same chart.
            assert watermark(org) == expected if org is not quiet else watermark(org) <= expected
            assert chart(org) == raw[org.pk], (org.name, rolled_at)
    assert watermark(orgs[0]) == NOW.replace(minute=34, second=0, microsecond=0)  # 14:37:12, 3 minutes ago
    assert ProvisioningHour.objects.filter(organization=quiet).count() == 2

    # Only the rollups speak for the rolled hours: the raw rows there are no longer read.
    ProvisioningEvent.objects.filter(created_at__lt=watermark(orgs[0]), outcome="success").update(status=404)
    assert chart(orgs[0])["charts"][1][1] == raw[orgs[0].pk]["charts"][1][1]


def test_rolled_hours_sum_refused_occurrences_by_kind(org):
    installation = okta(org)
    hour = NOW.replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    ProvisioningEvent.objects.bulk_create([
        call(org, installation, hour, 0), call(org, installation, hour + timedelta(minutes=59, seconds=59), 1),
        call(org, installation, hour + timedelta(minutes=5), 3), call(org, installation, hour + timedelta(minutes=6), 5),
        call(org, installation, hour + timedelta(minutes=7), 6), call(org, installation, hour + timedelta(minutes=8), 7),
        call(org, installation, hour + HOUR, 8),  # the next hour
    ])
    assert roll_up(org.pk, now=NOW) == 2
    assert rolled(org) == {hour: (2, 1, 32, 1), hour + HOUR: (0, 0, 0, 1)}


def test_a_call_is_rolled_up_only_once_its_late_rows_are_written(org, settings):
    installation = okta(org)
    hour = datetime(2026, 11, 30, 10, tzinfo=dt_timezone.utc)
    ProvisioningEvent.objects.bulk_create([call(org, installation, hour + timedelta(minutes=59, seconds=59), 5)])
    assert margin() == timedelta(minutes=3)  # SCIM_HEALTH_ROLLUP_MARGIN: longer than the buffers' delays
    roll_up(org.pk, now=hour + HOUR + timedelta(minutes=2, seconds=59))
    assert watermark(org) == hour + timedelta(minutes=59) and rolled(org) == {}  # 10:59:59 may still be in a buffer
    roll_up(org.pk, now=hour + HOUR + timedelta(minutes=3))
    assert watermark(org) == hour + HOUR and rolled(org) == {hour: (0, 0, 25, 0)}

    # A longer refused-call window pushes the margin out with it.
    settings.SCIM_ACTIVITY_FAILURE_WINDOW = 900
    assert margin() == timedelta(minutes=30)


def test_the_hour_in_progress_is_rolled_up_as_far_as_complete_then_counted_again_from_its_start(org):
    """An import's hour is not left raw until it ends: each run counts the hour
    the watermark is in from its start to the new watermark, so the chart sums
    only the last minutes raw, and shows the same counts throughout."""
    installation = okta(org)
    hour = datetime(2026, 11, 30, 10, tzinfo=dt_timezone.utc)
    ProvisioningEvent.objects.bulk_create([call(org, installation, hour + timedelta(minutes=m), 0) for m in (5, 18, 26)])
    now = hour + timedelta(minutes=22)
    before = chart(org, now)
    roll_up(org.pk, now=now)
    assert watermark(org) == hour + timedelta(minutes=19) and rolled(org) == {hour: (2, 0, 0, 0)}
    assert chart(org, now) == before
    # A call written late into the part already rolled up is counted by the next run.
    ProvisioningEvent.objects.bulk_create([call(org, installation, hour + timedelta(minutes=10), 3)])
    now = hour + timedelta(minutes=40)
    roll_up(org.pk, now=now)
    assert watermark(org) == hour + timedelta(minutes=37) and rolled(org) == {hour: (3, 1, 0, 0)}
    assert roll_up(org.pk, now=now) == 0 and rolled(org) == {hour: (3, 1, 0, 0)}  # nothing new: nothing added
    assert chart(org, now)["charts"][0][1] == 4


def test_two_runs_of_the_same_hours_never_double_count(org):
    random_activity(org, random.Random(3), 300)
    roll_up(org.pk, now=NOW)
    once, shown = rolled(org), chart(org)
    until = watermark(org)
    # A watermark behind the hours written (set back by hand, or restored): the
    # hours after it are read raw, not twice, and rolled up again to the same counts.
    behind = ProvisioningHour.objects.filter(organization=org).order_by("-hour").values_list("hour", flat=True)[30]
    ProvisioningRollup.objects.filter(organization=org).update(until=behind)
    assert chart(org) == shown
    roll_up(org.pk, now=NOW)
    roll_up_all(now=NOW)
    assert rolled(org) == once and watermark(org) == until and chart(org) == shown
    # A slower run finishing after a newer one leaves the watermark where the newer put it.
    health_rollup._advance(org.pk, until - timedelta(hours=5))
    assert watermark(org) == until


@pytest.mark.parametrize("rolled_up", [False, True])
def test_the_last_success_and_failure_come_from_their_own_newest_hours(org, rolled_up):
    installation = okta(org)
    ProvisioningEvent.objects.bulk_create([
        call(org, installation, NOW - timedelta(days=3), 3, target="old-failure"),
        call(org, installation, NOW - timedelta(hours=5, minutes=1), 7, target="last-failure"),
        call(org, installation, NOW - timedelta(hours=5, minutes=2), 1, target="success-before-it"),
        call(org, installation, NOW - timedelta(hours=2), 0, target="last-success"),
        call(org, installation, NOW - timedelta(minutes=2), 2, target="newest-success"),
    ])
    quiet = builders.make_org("Quiet")  # its last failure is older than the chart's window
    ProvisioningEvent.objects.bulk_create([call(quiet, None, NOW - timedelta(days=30, hours=2), 5, target="ancient")])
    if rolled_up:
        roll_up_all(now=NOW)
        assert watermark(org) == rollable_until(NOW)
    shown = chart(org)
    assert "newest-success" in shown["last_success"] and "last-failure" in shown["last_failure"]
    assert not shown["failing"]
    assert "ancient" in chart(quiet)["last_failure"] and chart(quiet)["last_success"] == ""


def test_rolling_up_reaches_back_no_further_than_the_retention(org, settings):
    installation = okta(org)
    ProvisioningEvent.objects.bulk_create([
        call(org, installation, NOW - timedelta(days=40)), call(org, installation, NOW - timedelta(days=20)),
        call(org, installation, NOW - timedelta(days=5)),
    ])
    settings.SCIM_ACTIVITY_RETENTION_DAYS = 7
    roll_up(org.pk, now=NOW)
    assert sorted(rolled(org)) == [(NOW - timedelta(days=5)).replace(minute=0, second=0, microsecond=0)]
    ProvisioningHour.objects.all().delete()
    ProvisioningRollup.objects.all().delete()
    settings.SCIM_ACTIVITY_RETENTION_DAYS = 90  # the chart shows 30 days: no further
    roll_up(org.pk, now=NOW)
    assert len(rolled(org)) == 2


def test_beat_rolls_up_every_org_with_new_activity_and_one_failure_stops_none(monkeypatch, caplog):
    now = timezone.now()
    orgs = [builders.make_org(f"Org {i}") for i in range(4)]
    for org in orgs[:3]:
        installation = okta(org)
        ProvisioningEvent.objects.bulk_create([call(org, installation, now - timedelta(hours=h)) for h in (2, 30)])
    idle = orgs[3]
    monkeypatch.setattr(health_rollup, "ORGS_PER_BATCH", 2)  # the orgs come in several batches
    real = health_rollup.roll_up

    def flaky(organization_id, *, now=None):
        if organization_id == orgs[1].pk:
            raise RuntimeError("boom")
        return real(organization_id, now=now)

    monkeypatch.setattr(health_rollup, "roll_up", flaky)
    assert rollup_provisioning_health.apply().get() == {"orgs": 2, "hours": 4, "failed": 1}
    assert "Could not roll up the provisioning activity of org" in caplog.text
    assert [len(rolled(o)) for o in orgs] == [2, 0, 2, 0]
    assert watermark(orgs[1]) is None and watermark(idle) is None  # nothing to roll: no row at all
    monkeypatch.setattr(health_rollup, "roll_up", real)
    assert rollup_provisioning_health.apply().get() == {"orgs": 1, "hours": 2, "failed": 0}  # only the one left behind
    assert rollup_provisioning_health.apply().get() == {"orgs": 0, "hours": 0, "failed": 0}


def test_the_rollup_command(org, capsys):
    installation = okta(org)
    now = timezone.now()
    ProvisioningEvent.objects.bulk_create([call(org, installation, now - timedelta(hours=h)) for h in (2, 3, 3)])
    call_command("rollup_provisioning_health")
    assert capsys.readouterr().out.strip() == "Rolled up 2 hours of 1 orgs."
    assert sum(s for s, *_ in rolled(org).values()) == 3


def test_pruning_deletes_rolled_up_hours_past_the_retention(org, other_org):
    hour = datetime(2026, 10, 1, 12, tzinfo=dt_timezone.utc)
    ProvisioningHour.objects.bulk_create(
        [ProvisioningHour(organization=o, hour=hour + d * HOUR, success=1) for o in (org, other_org) for d in (-1, 0, 1)]
    )
    cutoff_now = hour + timedelta(days=30, minutes=30)  # cutoff 12:30: the 12:00 hour is partly kept
    assert prune_rollups(now=cutoff_now) == 2
    assert sorted(rolled(org)) == [hour, hour + HOUR]
    ProvisioningHour.objects.create(organization=org, hour=datetime(2020, 1, 1, tzinfo=dt_timezone.utc), success=1)
    prune_provisioning_activity.apply().get()  # beat's pruning prunes the rollups too
    assert not ProvisioningHour.objects.filter(hour__year=2020).exists()


def statements_of(org) -> int:
    with CaptureQueriesContext(connection) as queries:
        health_context(org, now=NOW)
    return len(queries)


def test_four_statements_whatever_the_activity_and_the_rollups(org, other_org):
    ProvisioningEvent.objects.bulk_create([call(org, None, NOW - timedelta(hours=2))])
    random_activity(other_org, random.Random(5), 800)
    sizes = {statements_of(org), statements_of(other_org)}
    roll_up_all(now=NOW)
    sizes |= {statements_of(org), statements_of(other_org)}
    assert sizes == {4}  # the watermark, the hours (rolled up and raw: one UNION), the last success, the last failure


def test_the_scim_tab_runs_as_many_statements_rolled_up_or_not(client, org, other_org):
    for o in (org, other_org):
        Organization.objects.filter(pk=o.pk).update(scim_enabled=True)
    ProvisioningEvent.objects.bulk_create([call(org, okta(org), NOW - timedelta(hours=2))])
    random_activity(other_org, random.Random(9), 600)

    def tab(o) -> tuple[int, str]:
        client.force_login(builders.owner_of(o).user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:org-settings-scim", args=[o.uid]))
        assert response.status_code == 200
        page = response.content.decode()
        return len(queries), page.split('id="provisioning-health"')[1].split('id="provisioning-activity"')[0]

    before = {o.pk: tab(o) for o in (org, other_org)}
    roll_up_all()  # now: the tab's own clock
    after = {o.pk: tab(o) for o in (org, other_org)}
    assert before[org.pk][0] == before[other_org.pk][0] == after[org.pk][0] == after[other_org.pk][0]
    assert ProvisioningHour.objects.filter(organization=other_org).exists()
    for pk in before:  # the same chart (the "ago" of the sentences can tick between the two renderings)
        assert before[pk][1].split("<ul")[1] == after[pk][1].split("<ul")[1]


# --- PostgreSQL: the chart's statements read one org through its indexes -----------

ALL_ORGS_BY_TIME = {"provevent_time_idx"}  # every org's activity in time order


def _plans(org) -> list[tuple[str, dict]]:
    with CaptureQueriesContext(connection) as queries:
        health_context(org)
    return [(q["sql"], explain(q["sql"])) for q in queries.captured_queries]


def _scans(plan: dict) -> list[dict]:
    return [n for n in nodes(plan) if "Scan" in n["Node Type"] and "Subquery" not in n["Node Type"]]


def _assert_bounded(org) -> None:
    plans = _plans(org)
    assert len(plans) == 4
    hours = [p for sql, p in plans if '"scim_provisioninghour"' in sql]
    assert len(hours) == 1, [sql for sql, _ in plans]
    for sql, plan in plans:
        scans = _scans(plan)
        assert not [n for n in scans if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in (
            "scim_provisioningevent", "scim_provisioninghour")], plan
        used = {n.get("Index Name") for n in scans}
        assert not used & ALL_ORGS_BY_TIME, plan
        events = [n for n in scans if n.get("Index Name") in (
            "provevent_org_time_idx", "provevent_org_writes_idx", "provevent_org_failures_idx")]
        if '"scim_provisioningevent"' in sql:
            # Every read of the activity is a range of one org's (organization, -created_at, ...) indexes.
            assert events and all("created_at >=" in n["Index Cond"] for n in events), plan
        if '"scim_provisioninghour"' in sql:
            assert "provhour_org_hour_unique" in used, plan
            assert [n for n in events if n.get("Index Name") == "provevent_org_time_idx"], plan


@pytest.mark.postgres
def test_the_chart_reads_a_new_org_through_its_indexes_without_statistics(settings):
    settings.SCIM_ACTIVITY_FAILURE_WINDOW = 60
    now = timezone.now()
    rng = random.Random(11)
    tables = [ProvisioningEvent._meta.db_table, ProvisioningHour._meta.db_table, Organization._meta.db_table]
    with connection.cursor() as cursor:
        for table in tables:  # no autovacuum ANALYZE in the middle of the test
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")

    def activity(org, n: int) -> None:
        installation = okta(org)
        ProvisioningEvent.objects.bulk_create(
            [call(org, installation, now - timedelta(seconds=rng.randrange(30 * 86400)), rng.choice((0, 0, 0, 1, 3, 5)))
             for _ in range(n)],
            batch_size=2000,
        )

    for i in range(2):  # the rest of the database, analyzed
        other = builders.make_org(f"Other {i}")
        activity(other, 6000)
        roll_up(other.pk)
    start = hour_of_now = now.replace(minute=0, second=0, microsecond=0)
    ProvisioningHour.objects.bulk_create(
        [ProvisioningHour(organization=o, hour=start - h * HOUR, success=h)
         for o in [builders.make_org(f"Rolled {i}") for i in range(30)] for h in range(1, 721)],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")

    org = builders.make_org("Growing")  # from here on, no ANALYZE
    activity(org, 3000)
    ProvisioningEvent.objects.bulk_create(
        [call(org, None, hour_of_now + timedelta(seconds=s), 5) for s in range(0, int((now - hour_of_now).seconds) + 1, 60)]
    )
    _assert_bounded(org)  # never rolled up: the raw activity since the window
    roll_up(org.pk)
    assert ProvisioningHour.objects.filter(organization=org).count() > 600
    _assert_bounded(org)  # as beat keeps it


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_racing_on_postgresql_take_turns_and_count_each_call_once(monkeypatch):
    """Two beats (or a beat and the command) rolling the same org at once: the
    second waits on the watermark row until the first commits, then finds
    nothing left to roll. Neither writes an hour's count over the other's."""
    org = builders.make_org("Racing")
    now = timezone.now()
    rows = ProvisioningEvent.objects.bulk_create(
        [call(org, None, now - timedelta(minutes=37 * i), i % len(CALLS)) for i in range(0, 200)]
    )
    roll_up(org.pk, now=now - timedelta(days=2))  # the org has a watermark: nothing to create, only to lock
    counting = threading.Event()
    release = threading.Event()
    calls = []
    real = health_rollup.hourly_calls

    def held(events):
        calls.append(threading.current_thread().name)
        counting.set()
        assert release.wait(30)  # the first run holds the watermark's lock here
        return real(events)

    monkeypatch.setattr(health_rollup, "hourly_calls", held)
    written, errors = {}, []

    def run():
        try:
            written[threading.current_thread().name] = roll_up(org.pk, now=now)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=run, name="first")
    second = threading.Thread(target=run, name="second")
    first.start()
    assert counting.wait(30)
    second.start()
    second.join(1)
    assert second.is_alive()  # waiting for the first run's lock, not counting
    release.set()
    first.join(60)
    second.join(60)
    assert errors == [] and calls == ["first"]
    assert written["second"] == 0 and written["first"] > 0
    end = rollable_until(now)
    expected: dict = {}
    kinds = {200: 0, 201: 0, 204: 0, 400: 1, 409: 1, 401: 2, 429: 2, 500: 3, 503: 3}
    for r in rows:
        if r.created_at < end:
            counts = expected.setdefault(r.created_at.replace(minute=0, second=0, microsecond=0), [0, 0, 0, 0])
            counts[kinds[r.status]] += r.occurrences
    assert rolled(org) == {h: tuple(c) for h, c in expected.items()}
    assert watermark(org) == end
