"""Writing audit entries. Services call `record` inside their transaction; the
request id and client address come from the request being served
(organizations.request_context), so no service has to pass them along."""
from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any, Protocol, Union

from django.db import connection, models
from django.utils import timezone

from .models import ActorType, AuditEvent, Organization, User
from .request_context import current_client_address, current_request_id


class AuditActor(Protocol):
    """Anything that can act besides a user (an app installation) exposes this."""

    def audit_actor(self) -> tuple[str, str, str]: ...


Actor = Union[User, AuditActor, None]


def describe_actor(actor: Actor) -> tuple[str, str, str]:
    if actor is None:
        return ActorType.SYSTEM, "", "system"
    if isinstance(actor, User):
        return ActorType.USER, str(actor.pk), actor.email
    return actor.audit_actor()


def record(
    organization: Organization | None,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    target_label: str | None = None,
) -> AuditEvent:
    event = build_event(
        organization,
        actor,
        action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_label=target_label if target_label is not None else (str(target) if target is not None else ""),
        before=before,
        after=after,
    )
    event.save(force_insert=True)
    return event


def bulk_record(events: list[AuditEvent]) -> None:
    AuditEvent.objects.bulk_create(events, batch_size=1000)


# Columns an entry of record_each shares with the others of its call, then the
# ones it has of its own.
_SHARED = ("organization_id", "org_uid", "actor_type", "actor_id", "actor_label", "action", "target_type",
           "request_id", "client_address", "created_at")
_OWN = ("target_id", "target_label", "before", "after")


@cache
def _record_each_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(AuditEvent._meta.get_field(name).column) for name in _SHARED + _OWN)
    head = f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) "
    shared = ", ".join(["%s"] * len(_SHARED))
    if vendor == "postgresql":
        # The entries as one JSON array, one parameter: the statement is the same
        # text for 1 entry or 500, and the Python side is one json.dumps. (Four
        # text arrays cost psycopg ~2.5 ms of CPU for 100 entries, quoting and
        # escaping every element: benchmarks/README.md, "Where a mapped group
        # PATCH's time was, where it went".)
        return head + (
            f"SELECT {shared}, t.target_id, t.target_label, t.before, t.after FROM json_to_recordset(%s::json) "
            "AS t(target_id text, target_label text, before jsonb, after jsonb)"
        )
    return head + f"VALUES ({shared}, %s, %s, %s, %s)"  # run once per entry by executemany


def record_each(
    organization: Organization | None,
    actor: Actor,
    action: str,
    target_type: str,
    entries: Iterable[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]],
) -> int:
    """One entry per (target id, target label, before, after), all by one actor
    with one action, in one statement: what `record` writes for each, without a
    model instance per entry (building and preparing those cost far more than
    storing the rows: an access recompute audits up to hundreds of members at a
    time). Returns how many were written."""
    rows = [(str(target_id), (label or "")[:255], before, after) for target_id, label, before, after in entries]
    if not rows:
        return 0
    values = event_values(organization, actor, action, target_type=target_type)
    values["created_at"] = AuditEvent._meta.get_field("created_at").get_db_prep_save(values["created_at"], connection)
    shared = [values[name] for name in _SHARED]
    sql = _record_each_sql(connection.vendor)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [*shared, json.dumps([dict(zip(_OWN, row)) for row in rows])])
        else:
            cursor.executemany(sql, [[*shared, *row[:2], _json(row[2]), _json(row[3])] for row in rows])
    return len(rows)


def _json(value: dict[str, Any] | None) -> str | None:
    """A JSON column's value as JSONField stores it (None: SQL NULL)."""
    return None if value is None else json.dumps(value)


def build_event(organization: Organization | None, actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """An unsaved event, for bulk writes from large background jobs; `fields`
    are event_values' keywords (target_type, target_id, target_label, before, after)."""
    values = event_values(organization, actor, action, **fields)
    del values["organization_id"]
    return AuditEvent(organization=organization, **values)


def event_values(
    organization: Organization | None,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: Any = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event's column values by attribute name, for a writer that inserts it
    in the same statement as the change it records (scim.provisioning)."""
    actor_type, actor_id, actor_label = describe_actor(actor)
    return {
        "organization_id": organization.pk if organization else None,
        "org_uid": organization.uid if organization else "",
        "actor_type": actor_type,
        "actor_id": actor_id,
        "actor_label": actor_label[:255],
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "target_label": target_label[:255],
        "before": before,
        "after": after,
        "request_id": current_request_id(),
        "client_address": current_client_address()[:45],
        "created_at": timezone.now(),
    }
