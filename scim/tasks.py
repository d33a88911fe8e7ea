"""Beat-scheduled housekeeping of the scim app (schedule: CELERY_BEAT_SCHEDULE)."""
from __future__ import annotations

from celery import shared_task

from organizations.scheduled import run_exclusively

from .activity import prune


@shared_task(acks_late=True, ignore_result=True)
def prune_provisioning_activity() -> int | str:
    """Delete provisioning activity past its retention (idempotent: a second
    run finds nothing to delete). Opening the SCIM tab still prunes that org."""
    return run_exclusively("prune-provisioning-activity", prune, ttl=3600)
