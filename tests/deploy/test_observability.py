"""Request ids from the proxy (or made here) on responses, JSON log lines and
tasks; /metrics off by default, open to allowed networks or a bearer token,
with SCIM counts and latency by operation and status and the queue depth."""
from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from config.logging import JsonFormatter, RequestIdFilter
from organizations.request_context import request_id_var
from tests.scim.api.helpers import new_user

pytestmark = pytest.mark.django_db


def test_a_request_id_is_made_when_the_proxy_sent_none_or_a_hostile_one(client):
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz")["X-Request-ID"]
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID='x" injected=1 ' + "y" * 100)["X-Request-ID"]
    assert len(hostile) == 32 and "injected" not in hostile
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"


def test_scim_log_lines_are_json_with_the_request_id(scim, caplog):
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    lines = []
    handler.emit = lambda record: lines.append(handler.format(record))
    handler.setFormatter(JsonFormatter())
    scim_logger = logging.getLogger("orgdesk.scim")
    scim_logger.addHandler(handler)
    try:
        scim.post("/Users", new_user("logged@example.com"), HTTP_X_REQUEST_ID="trace-42")
    finally:
        scim_logger.removeHandler(handler)
    docs = [json.loads(line) for line in lines]
    request_line = next(d for d in docs if d["message"].startswith("scim POST"))
    assert request_line["request_id"] == "trace-42"
    assert request_line["level"] == "INFO" and request_line["logger"] == "orgdesk.scim"
    assert request_line["scim"]["status"] == 201 and request_line["scim"]["method"] == "POST"
    assert "Authorization" not in lines[0] and scim.token not in "".join(lines)


def test_a_task_runs_under_the_id_of_the_request_that_sent_it():
    from config.celery import REQUEST_ID_HEADER, _carry_request_id

    headers: dict = {}
    token = request_id_var.set("from-the-request")
    try:
        _carry_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {REQUEST_ID_HEADER: "from-the-request"}


def test_a_task_carries_the_client_address_of_the_request_that_sent_it():
    """Audit rows written by a worker (a password-reset request) name the caller's address."""
    from config.celery import CLIENT_ADDRESS_HEADER, REQUEST_ID_HEADER, _carry_request_id
    from organizations.request_context import client_address_var

    headers: dict = {}
    tokens = request_id_var.set("req-7"), client_address_var.set("198.51.100.4")
    try:
        _carry_request_id(headers=headers)
    finally:
        request_id_var.reset(tokens[0])
        client_address_var.reset(tokens[1])
    assert headers == {REQUEST_ID_HEADER: "req-7", CLIENT_ADDRESS_HEADER: "198.51.100.4"}


# --- /metrics -------------------------------------------------------------------


def test_metrics_are_off_by_default(client, settings):
    settings.METRICS_ALLOWED_NETWORKS, settings.METRICS_BEARER_TOKEN = [], ""
    assert client.get("/metrics").status_code == 404


def test_metrics_refuse_addresses_outside_the_allowed_networks(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.9.0.0/16"]
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert Client().get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # Through the proxy, a public client is the public client, not the proxy.
    assert Client().get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="10.9.3.4").status_code == 200


def test_metrics_accept_the_bearer_token_only(settings):
    settings.METRICS_ALLOWED_NETWORKS, settings.METRICS_BEARER_TOKEN = [], "s3cret-scrape"
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape").status_code == 200


def sample(text: str, name: str, **labels: str) -> float:
    """A sample's value in the text exposition; 0 when it has none yet."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(settings) -> str:
    settings.METRICS_BEARER_TOKEN = "t"
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_count_scim_requests_by_operation_and_status(scim, settings):
    before = scrape(settings)
    labels = {"operation": "GET users", "status": "200"}
    scim.get("/Users")
    scim.get("/Users")
    scim.get("/Users/999999")
    after = scrape(settings)
    assert sample(after, "orgdesk_scim_requests_total", **labels) - sample(before, "orgdesk_scim_requests_total", **labels) == 2
    missing = {"operation": "GET user", "status": "404"}
    assert sample(after, "orgdesk_scim_requests_total", **missing) - sample(before, "orgdesk_scim_requests_total", **missing) == 1
    count = "orgdesk_scim_request_duration_seconds_count"
    assert sample(after, count, **labels) - sample(before, count, **labels) == 2
    assert "orgdesk_recompute_job_duration_seconds" in after


def test_metrics_report_the_celery_queue_depth(settings):
    from config import metrics

    class FakeRedis:
        def pipeline(self, transaction=False):
            return self

        def llen(self, key):
            self.keys = [*getattr(self, "keys", []), key]

        def execute(self):
            return [3, 0, 1, 0]

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_DEFAULT_QUEUE = "q1"
    collector = metrics.QueueDepthCollector()
    collector._client = FakeRedis()
    (family,) = list(collector.collect())
    assert family.samples[0].labels == {"queue": "q1"} and family.samples[0].value == 4
    settings.CELERY_BROKER_URL = ""
    assert list(metrics.QueueDepthCollector().collect()) == []
