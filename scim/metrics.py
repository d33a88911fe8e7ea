"""Prometheus metrics of the SCIM API (exposed at /metrics, config/metrics.py).
Labels stay bounded: the operation is the method and the route's name
("GET users", "PATCH user"), never a path with ids in it."""
from __future__ import annotations

from django.http import HttpRequest
from prometheus_client import Counter, Histogram

SCIM_REQUESTS = Counter(
    "orgdesk_scim_requests", "SCIM API requests answered, by operation and status", ["operation", "status"]
)
SCIM_LATENCY = Histogram(
    "orgdesk_scim_request_duration_seconds",
    "Time to answer a SCIM API request, by operation and status",
    ["operation", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def operation_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    route = match.url_name if match is not None and match.url_name else "unrouted"
    return f"{request.method} {route}"[:40]


def observe_request(request: HttpRequest, status: int, seconds: float) -> None:
    labels = (operation_label(request), str(status))
    SCIM_REQUESTS.labels(*labels).inc()
    SCIM_LATENCY.labels(*labels).observe(seconds)
