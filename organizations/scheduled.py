"""Running beat-scheduled work once at a time across every node.

Production runs beat on more than one node (or restarts it while the old one
still runs), so a nightly task may be fired twice. Each scheduled task is
idempotent, and on top of that runs under a lease: a cache key added with
SET NX semantics (`cache.add`, atomic on Redis, which every node shares) and a
time-to-live, so a run that dies holding it frees it by itself. Whoever does
not get the lease skips this run; the next one catches up."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from prometheus_client import Counter, Histogram

logger = logging.getLogger("orgdesk.scheduled")

KEY_PREFIX = "scheduled-lease"
SKIPPED = "skipped"

T = TypeVar("T")

SCHEDULED_RUNS = Counter(
    "orgdesk_scheduled_task_runs", "Runs of beat-scheduled tasks, by task and outcome", ["task", "outcome"]
)
SCHEDULED_DURATION = Histogram(
    "orgdesk_scheduled_task_duration_seconds", "Wall time of beat-scheduled tasks that ran", ["task"]
)


def _lease_key(name: str) -> str:
    return f"{KEY_PREFIX}:{name}"


def run_exclusively(name: str, work: Callable[[], T], *, ttl: int) -> T | str:
    """Run `work` unless another node holds the lease on `name`; returns its
    result, or SKIPPED. `ttl` must exceed the longest run: past it, another
    node may start (harmless for idempotent work, only wasted)."""
    holder = uuid.uuid4().hex
    if not cache.add(_lease_key(name), holder, timeout=ttl):
        logger.info("scheduled task %s skipped: another node is running it", name)
        SCHEDULED_RUNS.labels(name, "skipped").inc()
        return SKIPPED
    started = time.monotonic()
    outcome = "failed"
    try:
        result = work()
        outcome = "done"
        return result
    finally:
        SCHEDULED_RUNS.labels(name, outcome).inc()
        SCHEDULED_DURATION.labels(name).observe(time.monotonic() - started)
        # Release only our own lease (it may have expired and been taken since).
        if cache.get(_lease_key(name)) == holder:
            cache.delete(_lease_key(name))
