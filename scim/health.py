"""Provisioning health at a glance, on the SCIM tab: the identity provider's
calls over the last 24 hours (hourly) and 30 days (daily), by outcome, as a
server-rendered SVG chart, with the last successful call and the last failure
in words.

Drawn from the stored activity in SQL, at the same cost whatever the org's size
and traffic. Beat rolls each org's completed hours up into ProvisioningHour
(scim.health_rollup: calls per hour and outcome kind, refused entries counting
their `occurrences`) and moves the org's watermark (ProvisioningRollup.until).
The tab reads the watermark, then in one statement the rolled-up hours before
it (at most 24 x 30 rows, the (organization, hour) index) UNION ALL the raw
activity from it on, summed per hour in SQL from the (organization,
-created_at) index alone (it carries status and occurrences): what beat has not
rolled up yet, normally the last hour and the margin. The hours before a watermark are committed with it, so a rollup
running meanwhile neither drops nor doubles an hour. The last success and the
last failure are then one row each, looked up in the newest hour the sums show
one in: a one-hour range of the same index. Four statements; the daily buckets
are sums of the hourly ones (days and hours in UTC)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Case, CharField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone
from django.utils.timesince import timesince

from organizations.formats import format_datetime
from organizations.models import Organization

from .models import ProvisioningEvent, ProvisioningHour, ProvisioningOutcome, ProvisioningRollup

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
KIND_KEYS = tuple(key for key, _ in KINDS)
HOURS = 24
DAYS = 30
HOUR = timedelta(hours=1)

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


def hour_of(moment: datetime) -> datetime:
    """The start of the hour (UTC) holding `moment`."""
    return moment.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)


def hourly_calls(events: QuerySet) -> QuerySet:
    """Calls per hour (UTC) by kind, one row per hour: (hour, *KIND_KEYS).
    What the rollup stores and what the chart sums after the watermark."""
    return (
        events.annotate(hour=Trunc("created_at", "hour", tzinfo=dt_timezone.utc), kind=KIND_OF_STATUS)
        .values("hour")
        .annotate(**{k: Coalesce(Sum("occurrences", filter=Q(kind=k)), 0) for k in KIND_KEYS})
        .values_list("hour", *KIND_KEYS)
        .order_by()
    )


def _calls_by_hour(org: Organization, window: datetime) -> dict[datetime, dict[str, int]]:
    """Two statements: the org's watermark, then every hour since `window` with
    calls, the rolled-up hours before the watermark and the raw activity from it."""
    until = ProvisioningRollup.objects.filter(organization=org).values_list("until", flat=True).first()
    split = max(until, window) if until else window
    rolled = ProvisioningHour.objects.filter(organization=org, hour__gte=window, hour__lt=split).values_list(
        "hour", *KIND_KEYS
    ).order_by()
    raw = hourly_calls(ProvisioningEvent.objects.filter(organization=org, created_at__gte=split))
    by_hour: dict[datetime, dict[str, int]] = {}
    for hour, *calls in rolled.union(raw, all=True):
        counts = by_hour.setdefault(hour_of(hour), dict.fromkeys(KIND_KEYS, 0))
        for kind, n in zip(KIND_KEYS, calls):
            counts[kind] += n
    return by_hour


def _last(events: QuerySet, outcome: str, by_hour: dict, kinds: tuple[str, ...], window: datetime):
    """The newest call of `outcome`, read from the newest hour the sums show
    one in (a one-hour range of the index); with none since `window`, from
    before it (what the retention leaves there)."""
    hour = max((h for h, counts in by_hour.items() if any(counts[k] for k in kinds)), default=None)
    events = events.filter(outcome=outcome)
    if hour is None:
        events = events.filter(created_at__lt=window)
    else:
        events = events.filter(created_at__gte=hour, created_at__lt=hour + HOUR)
    return events.order_by("-created_at", "-pk").values(*LAST_COLUMNS).first()


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
    this_hour = hour_of(now)
    today = this_hour.replace(hour=0)
    hours = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    window = this_hour - timedelta(days=DAYS)  # before days[0]: the last call may be older than the chart
    by_hour = _calls_by_hour(org, window)
    hourly, daily = {}, {}
    for hour, counts in by_hour.items():
        day = hour.replace(hour=0)
        for kind, n in counts.items():
            hourly[(hour, kind)] = n
            daily[(day, kind)] = daily.get((day, kind), 0) + n
    events = ProvisioningEvent.objects.filter(organization=org)
    failures = tuple(k for k in KIND_KEYS if k != "success")
    last_success = _last(events, ProvisioningOutcome.SUCCESS, by_hour, ("success",), window)
    last_failure = _last(events, ProvisioningOutcome.FAILURE, by_hour, failures, window)
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
