"""Beat-scheduled housekeeping of the organizations app (schedule: CELERY_BEAT_SCHEDULE)."""
from __future__ import annotations

from celery import shared_task

from .scheduled import run_exclusively
from .signin.invitations import expire_invitations as close_expired_invitations


@shared_task(acks_late=True, ignore_result=True)
def expire_invitations() -> int | str:
    return run_exclusively("expire-invitations", close_expired_invitations, ttl=3600)
