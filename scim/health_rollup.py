"""Rolling provisioning activity up into hours, so the health chart
(scim.health) reads at most 24 x 30 rows per org however much activity the
org stores, and only the last few minutes of calls raw.

Every SCIM call an admin may need to see is one ProvisioningEvent row (scim.activity);
an org under Okta or Entra stores hundreds of thousands of them a month, and an
import tens of thousands in an hour. Beat (scim.tasks, every
SCIM_HEALTH_ROLLUP_SECONDS) and `manage.py rollup_provisioning_health` sum, for
each org with activity after its watermark, its calls up to `rollable_until`
into ProvisioningHour rows, one per hour (one GROUP BY over that range of the
(organization, -created_at) index, one INSERT), and move the watermark
(ProvisioningRollup.until) there. The hour the watermark falls in is rolled up
as far as the watermark, and counted again from its start by the next run. The
tab reads the hours before the watermark and the calls from it raw: at most
the margin and a beat's period of calls, where whole hours left the hour an
import ran in (tens of thousands of calls) to be summed raw on every view.
Nothing of it runs on the SCIM request path.

How far is complete: the activity buffers write a call's row up to
SCIM_ACTIVITY_READ_DELAY (reads) or SCIM_ACTIVITY_FAILURE_WINDOW (refused
calls, coalesced into the row of the window's first call) seconds after the
time it carries. Calls are therefore rolled up only to `margin()` ago (to the
minute): SCIM_HEALTH_ROLLUP_MARGIN seconds (180), and never less than twice
the longer of those delays. A row written later still than that (a process
stalled for minutes) is kept in the activity list but not counted in the chart.

Rolling is idempotent: an hour's row holds the full count of its calls up to
the watermark, counted from the hour's start, and a second run over the same
range writes the same values over it (INSERT ... ON CONFLICT DO UPDATE), never
adds to it. Runs of one org take turns (the watermark row is locked first), so
a run never writes an hour's shorter count over a newer run's; the watermark
only moves forward. Nothing older than the retention window, nor than the
chart's 30 days, is rolled up, and pruning deletes rolled-up hours past the
retention."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from organizations.models import Organization

from .health import DAYS, HOUR, KIND_KEYS, hour_of, hourly_calls
from .models import ProvisioningEvent, ProvisioningHour, ProvisioningRollup

logger = logging.getLogger("orgdesk.scim")

ORGS_PER_BATCH = 500


def margin() -> timedelta:
    """How long after a call it is rolled up (see the module docstring)."""
    delays = max(settings.SCIM_ACTIVITY_READ_DELAY, settings.SCIM_ACTIVITY_FAILURE_WINDOW)
    return timedelta(seconds=max(settings.SCIM_HEALTH_ROLLUP_MARGIN, 2 * delays))


def rollable_until(now: datetime) -> datetime:
    """How far the activity is complete at `now`: margin() ago, to the minute."""
    return (now - margin()).replace(second=0, microsecond=0)


def oldest_rolled(now: datetime) -> datetime:
    """No hour before this one is rolled up: the retention window or the chart's days, the shorter."""
    return hour_of(now - timedelta(days=min(settings.SCIM_ACTIVITY_RETENTION_DAYS, DAYS)))


def roll_up(organization_id: int, *, now: datetime | None = None) -> int:
    """Roll up one org's activity from its watermark to rollable_until(now);
    returns how many hours with calls were written. One transaction: the hours
    and the watermark become visible together (scim.health reads both in one
    statement), after any other run of the org (the watermark row's lock)."""
    now = now or timezone.now()
    end, floor = rollable_until(now), oldest_rolled(now)
    with transaction.atomic():
        until = _locked_watermark(organization_id, floor)
        start = max(until, floor)
        if start >= end:
            return 0
        # From the start of the hour the watermark is in: its row is replaced by
        # the count of the whole hour so far, not added to.
        events = ProvisioningEvent.objects.filter(
            organization_id=organization_id, created_at__gte=hour_of(start), created_at__lt=end
        )
        hours = [  # in hour order: two runs upserting the same hours lock them in the same order
            ProvisioningHour(organization_id=organization_id, hour=hour, **dict(zip(KIND_KEYS, calls)))
            for hour, *calls in hourly_calls(events).order_by("hour")
        ]
        ProvisioningHour.objects.bulk_create(
            hours, batch_size=1000, update_conflicts=True, unique_fields=["organization", "hour"],
            update_fields=list(KIND_KEYS),
        )
        _advance(organization_id, end)
    return len(hours)


def _locked_watermark(organization_id: int, floor: datetime) -> datetime:
    """The org's watermark, its row locked until the transaction ends (created at
    `floor`, where nothing is rolled up yet, if the org has none): a second run
    of the org waits here, then starts from where this one left the watermark."""
    ProvisioningRollup.objects.bulk_create([ProvisioningRollup(organization_id=organization_id, until=floor)],
                                           ignore_conflicts=True)
    return ProvisioningRollup.objects.select_for_update().filter(organization_id=organization_id).values_list(
        "until", flat=True
    ).get()


def _advance(organization_id: int, end: datetime) -> None:
    """Move the watermark (its row made by _locked_watermark) to `end`, never back."""
    ProvisioningRollup.objects.filter(organization_id=organization_id, until__lt=end).update(until=end)


def roll_up_all(*, now: datetime | None = None) -> dict[str, int]:
    """Roll up every org with activity after its watermark, ORGS_PER_BATCH orgs
    per statement picking them; one org's failure is logged and the others go on."""
    now = now or timezone.now()
    end, floor = rollable_until(now), oldest_rolled(now)
    since = Greatest(Coalesce(OuterRef("provisioning_rollup__until"), Value(floor)), Value(floor))
    pending = Exists(
        ProvisioningEvent.objects.filter(organization=OuterRef("pk"), created_at__gte=since, created_at__lt=end)
    )
    done = {"orgs": 0, "hours": 0, "failed": 0}
    last = 0
    while True:
        batch = list(
            Organization.objects.filter(pk__gt=last).order_by("pk").annotate(pending=pending)
            .values_list("pk", "pending")[:ORGS_PER_BATCH]
        )
        if not batch:
            return done
        last = batch[-1][0]
        for organization_id, has_activity in batch:
            if not has_activity:
                continue
            try:
                done["hours"] += roll_up(organization_id, now=now)
                done["orgs"] += 1
            except Exception:
                done["failed"] += 1
                logger.exception("Could not roll up the provisioning activity of org %s", organization_id)


def prune_rollups(*, now: datetime | None = None) -> int:
    """Delete rolled-up hours wholly older than the retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_ACTIVITY_RETENTION_DAYS)
    deleted, _ = ProvisioningHour.objects.filter(hour__lte=cutoff - HOUR).delete()
    return deleted
