"""The Prometheus endpoint, /metrics.

What it shows: SCIM requests and their latency by operation and status
(scim.metrics), recompute job durations and beat-scheduled runs (recorded by
the worker that ran them: a worker with METRICS_PORT serves its own metrics),
and the depth of the Celery queue, read from the broker at scrape time.

Who may read it: nobody by default (404). METRICS_ALLOWED_NETWORKS lets
addresses in (the client address through the trusted proxies, so a public
client behind the proxy is never mistaken for it), METRICS_BEARER_TOKEN lets a
scraper in with `Authorization: Bearer <token>`; anyone else gets 403.

Several gunicorn workers: each is its own process with its own counters, and
a scrape reaches one of them. With PROMETHEUS_MULTIPROC_DIR set (the Docker
image sets it; the directory must be empty when the server starts) every
process writes its samples to files there and a scrape adds them all up;
config/gunicorn.py marks a dead worker's files. Without it (development, one
process), the process's own registry is served."""
from __future__ import annotations

import hmac
import logging
import os

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

# Every family is declared on every node, so dashboards see them before the first sample.
import mappings.metrics  # noqa: F401
import organizations.scheduled  # noqa: F401
import scim.metrics  # noqa: F401
from organizations.request_context import address_in, client_address, parse_networks

logger = logging.getLogger("orgdesk.metrics")

# kombu's Redis transport keeps a queue in one list per priority step: the
# queue's own name (no priority) and name + "\x06\x16" + step.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class QueueDepthCollector:
    """Messages waiting in the Celery queue, asked of the broker per scrape."""

    def __init__(self) -> None:
        self._client = None

    def collect(self):
        url, queue = settings.CELERY_BROKER_URL, settings.CELERY_TASK_DEFAULT_QUEUE
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return
        family = GaugeMetricFamily("orgdesk_celery_queue_depth", "Tasks waiting in the Celery queue", labels=["queue"])
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            pipe = self._client.pipeline(transaction=False)
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
            family.add_metric([queue], sum(pipe.execute()))
        except Exception:
            logger.warning("Celery queue depth unavailable", exc_info=True)
            return
        yield family


_queue_registry = CollectorRegistry(auto_describe=False)
_queue_registry.register(QueueDepthCollector())


def exposition() -> bytes:
    """The text exposition of every metric this node has."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_queue_registry)


def _allowed(request: HttpRequest) -> bool | None:
    """True/False, or None when the endpoint is off."""
    token = settings.METRICS_BEARER_TOKEN
    networks = parse_networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    if not token and not networks:
        return None
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    return bool(networks) and address_in(client_address(request), networks)


def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = _allowed(request)
    if allowed is None:
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    if not allowed:
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics(port: int) -> None:
    """A Celery worker's metrics on its own port (internal network only)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    start_http_server(port, addr=os.environ.get("METRICS_ADDR", "0.0.0.0"), registry=registry)
    logger.info("worker metrics on port %s", port)
