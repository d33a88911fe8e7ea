"""Provisioning activity: one ProvisioningEvent row per authenticated SCIM call,
shown on the SCIM tab so an admin can tell why a push from Okta failed. Rows
expire after SCIM_ACTIVITY_RETENTION_DAYS (pruned by Celery beat through
scim.tasks, when the tab is opened, and by `manage.py prune_provisioning_activity`).

It is a diagnostic trail, written in plain SQL and committed asynchronously on
PostgreSQL (no wait for the WAL flush). Writes and failures are written at
once. Successful reads (Okta's lookup before every push, import pages), the
bulk of the traffic, are kept per process and written together, one INSERT for
up to SCIM_ACTIVITY_READ_BATCH rows: when that many wait, SCIM_ACTIVITY_READ_DELAY
seconds after the first (a timer thread), when the SCIM tab is opened, and at
exit. A killed process loses at most that delay's reads."""
from __future__ import annotations

import atexit
import logging
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.db import connections
from django.utils import timezone

from organizations.models import Organization

from . import rawsql
from .models import ProvisioningEvent, ProvisioningOutcome

EVENT = rawsql.Columns(
    ProvisioningEvent,
    ("organization_id", "installation_id", "created_at", "method", "path", "operation", "target", "status",
     "outcome", "detail", "duration_ms"),
)

logger = logging.getLogger("orgdesk.scim")

_METHOD_OPERATIONS = {"GET": "Read", "POST": "Create", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}


def _clean(value: str, limit: int) -> str:
    """Storable text: IdP input may carry lone surrogates or NULs."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:limit]


def record_request(request: HttpRequest, response: HttpResponse, duration_ms: int, *, detail: str = "") -> None:
    """Called by the SCIM middleware after every call. Unauthenticated calls are
    only logged: writing rows for them would let anyone fill the table."""
    org = getattr(request, "scim_org", None)
    if org is None:
        return
    status = response.status_code
    operation = getattr(request, "scim_operation", None) or (
        f"{_METHOD_OPERATIONS.get(request.method, request.method)} {request.path.rsplit('/', 1)[-1]}"
    )
    row = {
        "organization_id": org.pk,
        "installation_id": getattr(getattr(request, "scim_installation", None), "pk", None),
        "created_at": timezone.now(),
        "method": request.method[:10],
        "path": _clean(request.path, 500),
        "operation": _clean(operation, 100),
        "target": _clean(getattr(request, "scim_target", ""), 255),
        "status": status,
        "outcome": ProvisioningOutcome.SUCCESS if status < 400 else ProvisioningOutcome.FAILURE,
        "detail": _clean(detail, 2000),
        "duration_ms": duration_ms,
    }
    if request.method == "GET" and status < 400 and settings.SCIM_ACTIVITY_READ_BATCH > 1:
        _reads.add(row)
    else:
        _write([row])


def _write(rows: list[dict[str, Any]]) -> None:
    try:
        rawsql.insert(EVENT, rows, durable=False)
    except Exception:  # activity is a convenience: never fail the SCIM call for it
        logger.exception("Could not record provisioning activity (%d entries)", len(rows))


class _ReadBuffer:
    """Successful reads waiting to be written (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def add(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.rows.append(row)
            full = len(self.rows) >= settings.SCIM_ACTIVITY_READ_BATCH
            if not full and self.timer is None:
                self.timer = threading.Timer(settings.SCIM_ACTIVITY_READ_DELAY, self._flush_in_thread)
                self.timer.daemon = True
                self.timer.start()
        if full:
            self.flush()

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            rows, self.rows = self.rows, []
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            return rows

    def flush(self) -> None:
        _write(self.take())

    def _flush_in_thread(self) -> None:
        try:
            self.flush()
        finally:
            connections.close_all()  # this thread's own connection


_reads = _ReadBuffer()
flush = _reads.flush  # the SCIM tab and tests: write what this process holds
atexit.register(flush)


def prune(organization: Organization | None = None, *, now=None) -> int:
    """Delete entries older than the retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_ACTIVITY_RETENTION_DAYS)
    qs = ProvisioningEvent.objects.filter(created_at__lt=cutoff)
    if organization is not None:
        qs = qs.filter(organization=organization)
    deleted, _ = qs.delete()
    return deleted
