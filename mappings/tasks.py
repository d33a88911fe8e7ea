"""Background re-derivation of access for large groups.

The task takes a RecomputeJob id. The job holds the sorted membership ids and
`done`, the resume point: each batch is one transaction that locks the job row,
re-derives the next slice (itself locking memberships in pk order) and advances
`done` in the same commit. So the task is

- idempotent: re-deriving is pure, and a duplicate delivery (acks_late) or a
  retry after a crash continues from the last committed batch;
- safe when two run at once: two runs of one job serialise on the job row; two
  jobs of one org serialise per member on the membership row locks, and every
  batch reads the mappings afresh, so the later change wins.
"""
from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import DatabaseError, transaction
from django.utils import timezone

from organizations.scheduled import run_exclusively

from .access import BATCH_SIZE, job_actor, recompute_memberships
from .consistency import reconcile_all
from .metrics import RECOMPUTE_JOB_DURATION
from .models import RecomputeJob

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


def _fail(job_id: int, error: str) -> None:
    RecomputeJob.objects.filter(pk=job_id).exclude(status=RecomputeJob.Status.DONE).update(
        status=RecomputeJob.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def run_batch(job_id: int) -> bool:
    """Process the next batch of a job; False once it has nothing left to do."""
    with transaction.atomic():
        job = (
            RecomputeJob.objects.select_for_update(of=("self",))
            .select_related("actor_user", "actor_installation__app")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status == RecomputeJob.Status.DONE:
            return False
        now = timezone.now()
        ids = job.membership_ids[job.done : job.done + BATCH_SIZE]
        if ids:
            recompute_memberships(ids, actor=job_actor(job))
        job.done = min(job.total, job.done + len(ids))
        job.error = ""
        if job.started_at is None:
            job.started_at = now
        if job.done >= job.total or not ids:
            job.status = RecomputeJob.Status.DONE
            job.finished_at = now
        else:
            job.status = RecomputeJob.Status.RUNNING
        job.save(update_fields=["done", "status", "error", "started_at", "finished_at"])
        return job.status != RecomputeJob.Status.DONE


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),  # deadlock, lost connection, lock timeout
    max_retries=MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
)
def recompute_group_access(self, job_id: int) -> None:
    """Re-derive access for every membership of a RecomputeJob, batch by batch."""
    started, outcome = time.monotonic(), "failed"
    try:
        _run_job(self, job_id)
        outcome = "done"
    finally:
        RECOMPUTE_JOB_DURATION.labels(outcome).observe(time.monotonic() - started)


def _run_job(task, job_id: int) -> None:
    try:
        while run_batch(job_id):
            pass
    except DatabaseError as exc:
        if task.request.retries >= MAX_RETRIES:
            logger.exception("recompute job %s failed for good", job_id)
            _fail(job_id, f"{type(exc).__name__}: {exc}")
        else:
            logger.warning("recompute job %s: %s; retrying", job_id, exc)
        raise
    except Exception as exc:
        # Not a transient database error: retrying would fail the same way.
        logger.exception("recompute job %s failed", job_id)
        _fail(job_id, f"{type(exc).__name__}: {exc}")
        raise


@shared_task(acks_late=True, ignore_result=True)
def nightly_consistency_pass() -> dict[str, int] | str:
    """Re-derive access wherever it drifted from groups and mappings (see
    mappings.consistency); one node at a time, idempotent."""
    return run_exclusively("access-consistency-pass", reconcile_all, ttl=6 * 3600)
