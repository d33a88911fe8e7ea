"""Provisioning activity: one ProvisioningEvent row per SCIM call an admin may
need to see, shown on the SCIM tab so an admin can tell why a push from Okta
failed. Rows expire after SCIM_ACTIVITY_RETENTION_DAYS (pruned by Celery beat
through scim.tasks, when the tab is opened, and by `manage.py
prune_provisioning_activity`).

It is a diagnostic trail, written in plain SQL and committed asynchronously on
PostgreSQL (no wait for the WAL flush), never on the path of a valid call's
answer beyond the one INSERT writes and failures have always cost:

- Writes and failures of authenticated calls are written at once. A User
  write that changed something writes its entry in the same statement as the
  change (`entry_with_change`, scim.rawsql.write_with): it commits with the
  change or not at all, and a call that then fails is recorded as a failure
  here as any other.
- Successful reads (Okta's lookup before every push, import pages), the bulk of
  the traffic, are kept per process and written together, one INSERT for up to
  SCIM_ACTIVITY_READ_BATCH rows: when that many wait, SCIM_ACTIVITY_READ_DELAY
  seconds after the first (a timer thread), when the SCIM tab is opened, and at
  exit. A killed process loses at most that delay's reads.
- Refused calls (401 bad or old token, SCIM disabled; 429) go through the same
  kind of buffer, coalesced: one entry per org, installation (or unknown
  token), reason and operation, counting its calls (`occurrences`), written
  SCIM_ACTIVITY_FAILURE_WINDOW seconds after the first, when the SCIM tab is
  opened, and at exit, in one INSERT that names each org by the uid in the URL
  (`INSERT ... SELECT ... WHERE uid = %s`): a uid of no org writes nothing, and
  a refused call reads nothing, so an existing and a made-up org answer alike.
  A flood of bad tokens therefore writes at most one row per org, reason and
  operation per window, and at most SCIM_ACTIVITY_FAILURE_KEYS rows of unknown
  tokens (the ones anyone can send) per window and process; the rest is
  counted in the log line. The presented token is never stored.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Hashable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from organizations.models import UID_ALPHABET, Organization

from . import rawsql
from .models import ProvisioningEvent, ProvisioningOutcome

EVENT = rawsql.Columns(
    ProvisioningEvent,
    ("organization_id", "installation_id", "created_at", "method", "path", "operation", "target", "status",
     "outcome", "detail", "duration_ms", "occurrences"),
)

logger = logging.getLogger("orgdesk.scim")

# What a call is, when no view said it (refused before the view ran, unknown
# route, wrong method): the same verb labels the views use (scim.api.views).
_NOUNS = {"users": "user", "user": "user", "groups": "group", "group": "group"}
_CONFIGURATION = {"service-provider-config", "resource-types", "resource-type", "schemas", "schema"}
_SEARCHES = {"search", "users-search", "groups-search"}
_ITEM_VERBS = {"GET": "Get", "PUT": "Update", "PATCH": "Update", "DELETE": "Delete"}


def _has_filter(request: HttpRequest) -> bool:
    """From the raw query string: request.GET itself raises on a query string the
    API refused (too many fields), and the refusal is recorded too."""
    return any(
        name == "filter" and value
        for name, _, value in (part.partition("=") for part in request.META.get("QUERY_STRING", "").split("&"))
    )


def operation_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    name = match.url_name if match else ""
    noun = _NOUNS.get(name)
    if noun and name.endswith("s"):  # the collection
        if request.method == "POST":
            return f"Create {noun}"
        if request.method == "GET":
            return f"Look up {noun}s" if _has_filter(request) else f"List {noun}s"
    elif noun and request.method in _ITEM_VERBS:
        return f"{_ITEM_VERBS[request.method]} {noun}"
    if name in _SEARCHES:
        return "Search"
    if name in _CONFIGURATION:
        return "Read configuration"
    return f"{request.method} {request.path.rsplit('/', 1)[-1] or request.path}"


def _clean(value: str, limit: int) -> str:
    """Storable text: IdP input may carry lone surrogates or NULs."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:limit]


def _row(request: HttpRequest, status: int, duration_ms: int, detail: str) -> dict[str, Any]:
    return {
        "installation_id": getattr(getattr(request, "scim_installation", None), "pk", None),
        "created_at": timezone.now(),
        "method": request.method[:10],
        "path": _clean(request.path, 500),
        "operation": _clean(getattr(request, "scim_operation", None) or operation_of(request), 100),
        "target": _clean(getattr(request, "scim_target", ""), 255),
        "status": status,
        "outcome": ProvisioningOutcome.SUCCESS if status < 400 else ProvisioningOutcome.FAILURE,
        "detail": _clean(detail, 2000),
        "duration_ms": duration_ms,
        "occurrences": 1,
    }


def record_request(request: HttpRequest, response: HttpResponse, duration_ms: int, *, detail: str = "") -> None:
    """Called by the SCIM middleware after every call (see the module docstring)."""
    refused = getattr(request, "scim_refused", None)
    if refused is not None:
        _record_refusal(request, response, duration_ms, detail, refused)
        return
    org = getattr(request, "scim_org", None)
    if org is None:  # no token was even checked: an unknown route (nothing to attribute)
        return
    if getattr(request, "scim_activity_written", False) and response.status_code < 400:
        return  # written with the change (entry_with_change)
    row = _row(request, response.status_code, duration_ms, detail)
    row["organization_id"] = org.pk
    if request.method == "GET" and row["status"] < 400 and settings.SCIM_ACTIVITY_READ_BATCH > 1:
        _reads.add(row)
    else:
        _write([row])


def entry_with_change(request: HttpRequest, status: int, detail: str) -> dict[str, Any]:
    """The activity entry of a successful write, for the statement that writes
    the change (its duration runs until then). The caller marks the request
    (`scim_activity_written`) once it was written, so record_request does not
    write it again; should the call fail after all, its transaction took the
    entry with it and record_request writes the failure."""
    started = getattr(request, "scim_started", None)
    duration_ms = int((time.monotonic() - started) * 1000) if started is not None else 0
    row = _row(request, status, duration_ms, detail)
    row["organization_id"] = request.scim_org.pk
    return row


def _plausible_uid(uid: str) -> bool:
    return 0 < len(uid) <= ORG_UID_MAX and all(ch in UID_ALPHABET for ch in uid)


def _record_refusal(request, response, duration_ms: int, detail: str, refused) -> None:
    if not _plausible_uid(refused.org_uid):
        return  # no org has it: nothing to write, and nothing was read to know it
    row = _row(request, response.status_code, duration_ms, detail)
    row["installation_id"] = refused.installation_id
    row["org_uid"] = refused.org_uid
    key = (refused.org_uid, refused.installation_id, refused.reason, row["status"], row["operation"])
    _refusals.add(row, key=key, anyone_can_send=refused.installation_id is None)


def _write(rows: list[dict[str, Any]]) -> None:
    try:
        rawsql.insert(EVENT, rows, durable=False)
    except Exception:  # activity is a convenience: never fail the SCIM call for it
        logger.exception("Could not record provisioning activity (%d entries)", len(rows))


# --- refused calls: one INSERT that finds each org by its uid ---------------------

ORG_UID_MAX = Organization._meta.get_field("uid").max_length
_ORG = rawsql.Columns(Organization, ("id", "uid"))


@lru_cache(maxsize=64)
def _refusals_sql(rows: int, vendor: str) -> str:
    """INSERT ... SELECT <the row's values> FROM org WHERE uid = %s UNION ALL ...
    PostgreSQL types the branches of a UNION before it sees the columns they
    fill, so there each value is cast to its column's type."""
    conn = connections[DEFAULT_DB_ALIAS]
    values = [
        f"CAST(%s AS {f.cast_db_type(conn)})" if vendor == "postgresql" else "%s" for f in EVENT.fields[1:]
    ]
    branch = f"SELECT {_ORG.column('id')}, {', '.join(values)} FROM {rawsql.qn(_ORG.table)} WHERE {_ORG.column('uid')} = %s"
    names = ", ".join(rawsql.qn(f.column) for f in EVENT.fields)
    return f"INSERT INTO {rawsql.qn(EVENT.table)} ({names}) " + " UNION ALL ".join([branch] * rows)


# SQLite allows 500 SELECTs in one compound statement.
REFUSALS_PER_STATEMENT = 250


def _write_refusals(rows: list[dict[str, Any]]) -> None:
    conn = connections[DEFAULT_DB_ALIAS]
    for start in range(0, len(rows), REFUSALS_PER_STATEMENT):  # one statement unless hundreds wait
        chunk = rows[start : start + REFUSALS_PER_STATEMENT]
        params: list[Any] = []
        for row in chunk:
            params += [f.get_db_prep_save(row[f.attname], conn) for f in EVENT.fields[1:]]
            params.append(row["org_uid"])
        try:
            rawsql.write(_refusals_sql(len(chunk), conn.vendor), params, durable=False)
        except Exception:  # as _write
            logger.exception("Could not record refused SCIM calls (%d entries)", len(chunk))


# --- the buffers --------------------------------------------------------------------


class _Buffer:
    """Rows waiting to be written in one INSERT (see the module docstring): a
    timer thread writes them `delay` seconds after the first, or at once when
    `batch` wait. Rows added with a key coalesce into the first one of that
    key (its `occurrences` counts them); `cap` bounds how many rows anyone
    can make wait at once (`anyone_can_send`): beyond it they are only counted."""

    def __init__(self, write: Callable[[list], None], delay: Callable[[], float], batch: Callable[[], int],
                 cap: Callable[[], int] | None = None) -> None:
        self.write, self.delay, self.batch, self.cap = write, delay, batch, cap
        self.rows: dict[Hashable, dict[str, Any]] = {}
        self.capped = 0  # rows held under the cap
        self.dropped = 0
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def add(self, row: dict[str, Any], *, key: Hashable | None = None, anyone_can_send: bool = False) -> None:
        with self.lock:
            held = self.rows.get(key) if key is not None else None
            if held is not None:
                held["occurrences"] += 1
                return
            if anyone_can_send and self.cap is not None:
                if self.capped >= self.cap():
                    self.dropped += 1
                    return
                self.capped += 1
            self.rows[key if key is not None else object()] = row
            full = len(self.rows) >= self.batch()
            if not full and self.timer is None:
                self.timer = threading.Timer(self.delay(), self._flush_in_thread)
                self.timer.daemon = True
                self.timer.start()
        if full:
            self.flush()

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            rows, self.rows = list(self.rows.values()), {}
            if self.dropped:
                logger.warning("Provisioning activity: %d refused calls of unknown tokens over the cap not recorded",
                               self.dropped)
            self.capped = self.dropped = 0
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            return rows

    def flush(self) -> None:
        self.write(self.take())

    def _flush_in_thread(self) -> None:
        try:
            self.flush()
        finally:
            connections.close_all()  # this thread's own connection


_reads = _Buffer(
    lambda rows: _write(rows),  # looked up at each flush (tests replace it)
    lambda: settings.SCIM_ACTIVITY_READ_DELAY,
    lambda: settings.SCIM_ACTIVITY_READ_BATCH,
)
_refusals = _Buffer(
    lambda rows: _write_refusals(rows),
    lambda: settings.SCIM_ACTIVITY_FAILURE_WINDOW,
    lambda: 2**31,  # written when the window ends, never because many wait (the cap bounds them)
    lambda: settings.SCIM_ACTIVITY_FAILURE_KEYS,
)


def flush() -> None:
    """Write what this process holds (the SCIM tab, tests, exit)."""
    _reads.flush()
    _refusals.flush()


def discard() -> None:
    """Forget what this process holds (tests)."""
    _reads.take()
    _refusals.take()


atexit.register(flush)


def prune(organization: Organization | None = None, *, now=None) -> int:
    """Delete entries older than the retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_ACTIVITY_RETENTION_DAYS)
    qs = ProvisioningEvent.objects.filter(created_at__lt=cutoff)
    if organization is not None:
        qs = qs.filter(organization=organization)
    deleted, _ = qs.delete()
    return deleted
