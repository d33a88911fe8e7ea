"""The Provisioning activity list of the SCIM tab, at a page's cost however many
calls an IdP made.

By default it lists writes and failures (a partial index holds just those), the
calls an admin investigates. "All requests" adds the successful reads, folding
each run of consecutive reads of one kind by one app into one line ("List
users ×1,021 between … and …"). Pages go backwards in time from a cursor (the
last row shown), so page N costs what page 1 costs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest

from organizations.models import Organization
from organizations.paging import TRAIL_COUNT_CAP, capped_count

from .activity import flush, prune
from .models import AppInstallation, ProvisioningEvent, ProvisioningOutcome

LINES_PER_PAGE = 50
# The most raw rows one page reads to fold reads into lines.
RAW_ROWS_PER_PAGE = 2000
VIEW_ALL = "all"
OPERATIONS = [
    "Create user", "Update user", "Deactivate user", "Reactivate user", "Delete user", "Get user",
    "Look up users", "List users", "Create group", "Update group", "Update group members", "Rename group",
    "Delete group", "Get group", "Look up groups", "List groups", "Search", "Read configuration",
]
WRITES_AND_FAILURES = Q(outcome=ProvisioningOutcome.FAILURE) | ~Q(method="GET")
COLUMNS = (
    "pk", "created_at", "method", "path", "operation", "target", "status", "outcome", "detail", "installation_id",
    "occurrences",
)
# The App filter's choice for refused calls whose token was no installation's of this org.
UNKNOWN_TOKEN = "unknown"
UNKNOWN_TOKEN_LABEL = "Unknown token"


def _app_choice(value: str) -> int | str:
    return value if value == UNKNOWN_TOKEN else int(value)


class ActivityFilterForm(forms.Form):
    activity = forms.ChoiceField(
        required=False, choices=[("", "Writes and failures"), (VIEW_ALL, "All requests (reads folded)")], label="Show"
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome"), *ProvisioningOutcome.choices])
    operation = forms.ChoiceField(required=False, choices=[("", "Any operation"), *((o, o) for o in OPERATIONS)])
    app = forms.TypedChoiceField(required=False, coerce=_app_choice, empty_value=None, label="App")
    before = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, data, *, installations: list[AppInstallation]):
        super().__init__(data)
        self.fields["app"].choices = [
            ("", "Any app"),
            *((i.pk, i.app.name if i.is_live else f"{i.app.name} (uninstalled)") for i in installations),
            (UNKNOWN_TOKEN, UNKNOWN_TOKEN_LABEL),
        ]

    def clean_before(self) -> tuple[datetime, int] | None:
        """The cursor: `<epoch microseconds>.<id>` of the last row of the previous page."""
        value = self.cleaned_data["before"]
        if not value:
            return None
        micros, _, pk = value.partition(".")
        if not (micros.isdigit() and pk.isdigit()) or len(micros) > 18 or len(pk) > 18:
            return None
        return datetime.fromtimestamp(int(micros) / 1e6, tz=dt_timezone.utc), int(pk)


@dataclass
class ActivityLine:
    """One event (refused calls coalesced into one count several), or a run of
    successful reads folded into one line."""

    first: dict[str, Any]  # the newest row of the run
    last: dict[str, Any]  # the oldest row
    count: int  # calls
    app_name: str

    @property
    def folded(self) -> bool:
        """A run of several rows (reads)."""
        return self.last is not self.first

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["first"][name]
        except KeyError:
            raise AttributeError(name) from None


def _cursor(row: dict[str, Any]) -> str:
    created: datetime = row["created_at"]
    return f"{int(created.timestamp() * 1e6)}.{row['pk']}"


def _is_read(row: dict[str, Any]) -> bool:
    return row["method"] == "GET" and row["outcome"] == ProvisioningOutcome.SUCCESS


def app_name(row: dict[str, Any], app_names: dict[int | None, str]) -> str:
    """The installation's app; a call refused for a token that was none of this
    org's installations' is "Unknown token" (every other call has an installation)."""
    if row["installation_id"] is None:
        return UNKNOWN_TOKEN_LABEL if row["outcome"] == ProvisioningOutcome.FAILURE else ""
    return app_names.get(row["installation_id"], "")


def fold(rows: list[dict[str, Any]], app_names: dict[int | None, str], limit: int) -> tuple[list[ActivityLine], int]:
    """Lines from rows (newest first) and how many rows they used: consecutive
    successful reads of one operation by one app become one line."""
    lines: list[ActivityLine] = []
    used = 0
    for row in rows:
        prev = lines[-1] if lines else None
        if (prev is not None and _is_read(row) and _is_read(prev.first)
                and row["operation"] == prev.first["operation"] and row["installation_id"] == prev.first["installation_id"]):
            prev.last = row
            prev.count += row["occurrences"]
        elif len(lines) == limit:
            break
        else:
            lines.append(ActivityLine(row, row, row["occurrences"], app_name(row, app_names)))
        used += 1
    return lines, used


def activity_context(request: HttpRequest, org: Organization) -> dict:
    """Extra context the SCIM tab passes to admin/scim/_provisioning_activity.html."""
    flush()  # this process's waiting reads (other processes write theirs within seconds)
    prune(org)
    installations = list(AppInstallation.objects.filter(organization=org).select_related("app").order_by("pk"))
    form = ActivityFilterForm(request.GET, installations=installations)
    data = form.cleaned_data if form.is_valid() else {}
    show_all = data.get("activity") == VIEW_ALL
    events = ProvisioningEvent.objects.filter(organization=org)
    if not show_all:
        events = events.filter(WRITES_AND_FAILURES)
    if data.get("outcome"):
        events = events.filter(outcome=data["outcome"])
    if data.get("operation"):
        events = events.filter(operation=data["operation"])
    if data.get("app") == UNKNOWN_TOKEN:
        events = events.filter(installation__isnull=True)
    elif data.get("app"):
        events = events.filter(installation_id=data["app"])
    count = capped_count(events, TRAIL_COUNT_CAP)
    before = data.get("before")
    if before:
        when, pk = before
        events = events.filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=pk))
    events = events.order_by("-created_at", "-pk")
    raw_limit = RAW_ROWS_PER_PAGE if show_all else LINES_PER_PAGE
    rows = list(events.values(*COLUMNS)[: raw_limit + 1])
    app_names = {i.pk: i.app.name for i in installations}
    lines, used = fold(rows[:raw_limit], app_names, LINES_PER_PAGE)
    more = used < len(rows)
    params = {k: v for k, v in request.GET.items() if k in ("activity", "outcome", "operation", "app") and v}
    next_query = "?" + urlencode({**params, "before": _cursor(rows[used - 1])}) if more and used else ""
    return {
        "activity_form": form,
        "activity_all": show_all,
        "provisioning_lines": lines,
        "provisioning_count": f"{count[0]:,}+" if count[1] else f"{count[0]:,}",
        "provisioning_count_number": count[0],
        "provisioning_next_query": next_query,
        "provisioning_first_query": "?" + urlencode(params) if before else "",
        "provisioning_filtered": bool(params),
        "provisioning_retention_days": settings.SCIM_ACTIVITY_RETENTION_DAYS,
    }
