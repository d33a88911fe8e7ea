"""Provisioning health at a glance, on the SCIM tab: the identity provider's
calls over the last 24 hours (hourly) and 30 days (daily), by outcome, as a
server-rendered SVG chart, with the last successful call and the last failure
in words.

Drawn from the stored activity (ProvisioningEvent) in SQL: one GROUP BY
statement per range (truncated time, outcome kind; refused calls coalesced into
one row count `occurrences` calls, so the sum of it), read through the
(organization, -created_at) index, plus one row each for the last success and
the last failure (the same index; the failures' partial index). Four statements
whatever the org's size; the result is at most 24 + 30 buckets."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, Sum, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.timesince import timesince

from organizations.formats import format_datetime
from organizations.models import Organization

from .models import ProvisioningEvent, ProvisioningOutcome

# (key, label), in stacking order (bottom first).
KINDS = (
    ("success", "Success"),
    ("refused", "Refused (4xx)"),
    ("denied", "Unauthorized or rate-limited (401/429)"),
    ("failed", "Failed (5xx)"),
)
KIND_OF_STATUS = Case(
    When(status__in=(401, 429), then=Value("denied")),
    When(status__gte=500, then=Value("failed")),
    When(status__gte=400, then=Value("refused")),
    default=Value("success"),
    output_field=CharField(),
)
HOURS = 24
DAYS = 30

# The SVG's drawing box (user units; the SVG scales to its container's width).
CHART_WIDTH = 480
CHART_HEIGHT = 90
BAR_GAP = 1


@dataclass
class Bucket:
    start: datetime
    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Rect:
    kind: str
    x: float
    y: float
    width: float
    height: float


@dataclass
class Bar:
    bucket: Bucket
    rects: list[Rect]
    x: float
    width: float

    @property
    def title(self) -> str:
        parts = [f"{self.bucket.counts.get(k, 0):,} {label.lower()}" for k, label in KINDS if self.bucket.counts.get(k)]
        return f"{self.bucket.label}: " + (", ".join(parts) if parts else "no calls")


@dataclass
class Chart:
    key: str
    title: str
    buckets: list[Bucket]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    @property
    def totals(self) -> list[tuple[str, str, int]]:
        return [(k, label, sum(b.counts.get(k, 0) for b in self.buckets)) for k, label in KINDS]

    @property
    def total(self) -> int:
        return sum(b.total for b in self.buckets)

    @property
    def summary(self) -> str:
        """"1,204 success, 3 refused (4xx)": the non-zero outcomes."""
        return ", ".join(f"{n:,} {label.lower()}" for _, label, n in self.totals if n)

    @property
    def peak(self) -> int:
        return max((b.total for b in self.buckets), default=0)

    @property
    def bars(self) -> list[Bar]:
        """Stacked bars, success at the bottom, scaled to the busiest bucket."""
        peak = self.peak or 1
        step = self.width / len(self.buckets)
        bars = []
        for i, bucket in enumerate(self.buckets):
            x = round(i * step + BAR_GAP / 2, 2)
            width = round(max(step - BAR_GAP, 1), 2)
            bottom = float(self.height)
            rects = []
            for kind, _ in KINDS:
                n = bucket.counts.get(kind, 0)
                if not n:
                    continue
                # A non-zero count stays visible (at least one unit high).
                h = max(self.height * n / peak, 1.0)
                bottom -= h
                rects.append(Rect(kind, x, round(max(bottom, 0), 2), width, round(h, 2)))
            bars.append(Bar(bucket, rects, x, width))
        return bars


def _sums(events, start: datetime, unit: str) -> dict[tuple[datetime, str], int]:
    """One statement: calls per (truncated time, kind) since start."""
    rows = (
        events.filter(created_at__gte=start)
        .annotate(bucket=Trunc("created_at", unit), kind=KIND_OF_STATUS)
        .values("bucket", "kind")
        .annotate(calls=Sum("occurrences"))
        .order_by()
    )
    return {(row["bucket"], row["kind"]): row["calls"] for row in rows}


def _chart(key: str, title: str, starts: list[datetime], sums: dict, label) -> Chart:
    buckets = []
    for start in starts:
        counts = {kind: sums.get((start, kind), 0) for kind, _ in KINDS}
        buckets.append(Bucket(start, label(start), {k: v for k, v in counts.items() if v}))
    return Chart(key, title, buckets)


def _short(text: str, limit: int) -> str:
    """A value the IdP sent can be any length: the sentence keeps its start."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(row: dict[str, Any] | None, now: datetime) -> str:
    if row is None:
        return ""
    what = row["operation"] or f"{row['method']} {row['path']}"
    if row["target"]:
        what += f" {_short(row['target'], 80)}"
    app = row["installation__app__name"] if row["installation_id"] else "an unknown token"
    sentence = f"{what}"
    if app:
        sentence += f" by {app}"
    if row["outcome"] == ProvisioningOutcome.FAILURE:
        sentence += f", answered {row['status']}"
        if row["detail"]:
            sentence += f" ({_short(row['detail'], 160)})"
    if (now - row["created_at"]).total_seconds() < 60:
        ago = "less than a minute ago"  # timesince says "0 minutes"
    else:
        ago = timesince(row["created_at"], now).split(",")[0].replace("\xa0", " ") + " ago"
    return f"{sentence}, {ago} ({format_datetime(row['created_at'])})"


LAST_COLUMNS = (
    "created_at", "method", "path", "operation", "target", "status", "outcome", "detail", "installation_id",
    "installation__app__name",
)


def health_context(org: Organization, *, now: datetime | None = None) -> dict:
    """Context of admin/scim/_provisioning_health.html, in four statements."""
    now = now or timezone.now()
    events = ProvisioningEvent.objects.filter(organization=org)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    today = this_hour.replace(hour=0)
    hours = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    hourly = _sums(events, hours[0], "hour")
    daily = _sums(events, days[0], "day")
    newest = events.order_by("-created_at", "-pk").values(*LAST_COLUMNS)
    last_success = newest.filter(outcome=ProvisioningOutcome.SUCCESS).first()
    last_failure = newest.filter(outcome=ProvisioningOutcome.FAILURE).first()
    charts = [
        _chart("24h", "Last 24 hours, by hour", hours, hourly,
               lambda s: f"{s:%H}:00–{(s + timedelta(hours=1)):%H}:00 {format_datetime(s).split(',')[0]}"),
        _chart("30d", "Last 30 days, by day", days, daily, lambda s: format_datetime(s).split(",")[0]),
    ]
    failing = bool(last_failure and (not last_success or last_failure["created_at"] > last_success["created_at"]))
    return {
        "health_charts": charts,
        "health_kinds": KINDS,
        "health_last_success": _describe(last_success, now),
        "health_last_failure": _describe(last_failure, now),
        "health_failing": failing,
    }
