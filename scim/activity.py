"""Provisioning activity: one ProvisioningEvent row per authenticated SCIM call
(a single plain-SQL INSERT, committed asynchronously on PostgreSQL: it is a
diagnostic trail, and waiting for its WAL flush on every lookup is not worth
it), shown on the SCIM tab so an admin can tell why a push from
Okta failed. Rows expire after SCIM_ACTIVITY_RETENTION_DAYS (pruned when the tab
is opened and by `manage.py prune_provisioning_activity`)."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
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

ACTIVITY_PAGE_SIZE = 50
OUTCOME_PARAM = "outcome"

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
    try:
        rawsql.insert(
            EVENT,
            {
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
            },
            durable=False,
        )
    except Exception:  # activity is a convenience: never fail the SCIM call for it
        logger.exception("Could not record provisioning activity")


def prune(organization: Organization | None = None, *, now=None) -> int:
    """Delete entries older than the retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_ACTIVITY_RETENTION_DAYS)
    qs = ProvisioningEvent.objects.filter(created_at__lt=cutoff)
    if organization is not None:
        qs = qs.filter(organization=organization)
    deleted, _ = qs.delete()
    return deleted


def activity_context(request: HttpRequest, org: Organization) -> dict:
    """Extra context the SCIM tab passes to admin/scim/_provisioning_activity.html:
    the latest entries, optionally only failures (?outcome=failure)."""
    prune(org)
    outcome = request.GET.get(OUTCOME_PARAM, "")
    if outcome not in ProvisioningOutcome.values:
        outcome = ""
    events = ProvisioningEvent.objects.filter(organization=org).select_related("installation__app")
    if outcome:
        events = events.filter(outcome=outcome)
    return {
        "provisioning_events": list(events[:ACTIVITY_PAGE_SIZE]),
        "provisioning_outcome": outcome,
        "provisioning_outcomes": ProvisioningOutcome.choices,
        "provisioning_retention_days": settings.SCIM_ACTIVITY_RETENTION_DAYS,
    }
