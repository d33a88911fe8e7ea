"""Writing audit entries. Services call `record` inside their transaction; the
request id and client address come from the request being served
(organizations.request_context), so no service has to pass them along."""
from __future__ import annotations

from typing import Any, Protocol, Union

from django.db import models
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


def build_event(
    organization: Organization | None,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """An unsaved event, for bulk writes from large background jobs."""
    values = event_values(
        organization, actor, action, target_type=target_type, target_id=target_id, target_label=target_label,
        before=before, after=after,
    )
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
