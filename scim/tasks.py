"""Beat-scheduled housekeeping of the scim app (schedule: CELERY_BEAT_SCHEDULE)."""
from __future__ import annotations

from celery import shared_task

from organizations.scheduled import run_exclusively

from .activity import prune
from .health_rollup import prune_rollups, roll_up_all


def prune_activity_and_rollups() -> int:
    """Activity past its retention, then the rolled-up hours past it; returns
    how many activity entries were deleted."""
    deleted = prune()
    prune_rollups()
    return deleted


@shared_task(acks_late=True, ignore_result=True)
def prune_provisioning_activity() -> int | str:
    """Delete provisioning activity past its retention (idempotent: a second
    run finds nothing to delete). Opening the SCIM tab still prunes that org."""
    return run_exclusively("prune-provisioning-activity", prune_activity_and_rollups, ttl=3600)


@shared_task(acks_late=True, ignore_result=True)
def rollup_provisioning_health() -> dict[str, int] | str:
    """Roll the completed hours of every org with new activity up for the
    health chart (scim.health_rollup; idempotent, so a run the lease let
    through twice writes the same hours)."""
    return run_exclusively("rollup-provisioning-health", roll_up_all, ttl=1800)
