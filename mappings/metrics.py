"""Prometheus metrics of background access work, recorded by whichever process
runs it (a Celery worker exposes its own /metrics: config/metrics.py)."""
from __future__ import annotations

from prometheus_client import Histogram

RECOMPUTE_JOB_DURATION = Histogram(
    "orgdesk_recompute_job_duration_seconds",
    "Wall time of one run of a recompute job (a RecomputeJob handed to a worker), by outcome",
    ["outcome"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
