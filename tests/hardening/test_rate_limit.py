"""SCIM abuse limits: per installation (sliding minute + one-second burst), bad
tokens per address (a valid token is never locked out), 429 SCIM JSON with
Retry-After, limits configurable and shared through Redis when configured; a
cache outage fails open. The one-roundtrip Redis path: test_rate_limit_redis.py."""
from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.test import Client

from scim.api import ratelimit
from tests.builders import enable_scim
from tests.scim.api.helpers import ScimClient

pytestmark = pytest.mark.django_db

T0 = 1_800_000_000.0  # the start of a minute window (divisible by 60)


@pytest.fixture
def limits(settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 10
    settings.SCIM_RATE_LIMIT_BURST = 0
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 5
    return settings


def assert_429(response) -> int:
    assert response.status_code == 429, (response.status_code, response.content[:200])
    doc = response.json()
    assert doc["status"] == "429" and doc["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert response["Content-Type"].startswith("application/scim+json")
    retry = int(response["Retry-After"])
    assert 1 <= retry <= 120
    assert f"{retry} s" in doc["detail"]
    return retry


# --- the limiter itself ----------------------------------------------------------


def test_defaults_leave_room_for_okta_and_entra_bursts():
    from django.conf import settings

    assert settings.SCIM_RATE_LIMIT_PER_MINUTE >= 1200  # Okta pushes up to ~600/min per app
    assert settings.SCIM_RATE_LIMIT_BURST >= 100


def test_installation_limit_is_a_sliding_minute(limits):
    for i in range(10):
        assert ratelimit.check_installation(7, now=T0 + i).allowed
    refused = ratelimit.check_installation(7, now=T0 + 30)
    assert not refused.allowed and refused.retry_after == 36  # into the next window, until 10 * (1 - t/60) + 1 <= 10
    # 15 s into the next minute, 3/4 of the previous 10 still count: 7.5 + 1 + 1 + 1 = 10.5 > 10
    assert ratelimit.check_installation(7, now=T0 + 75).allowed
    assert ratelimit.check_installation(7, now=T0 + 75).allowed
    later = ratelimit.check_installation(7, now=T0 + 75)
    assert not later.allowed and 1 <= later.retry_after <= 45
    # by the end of the next minute the old requests have slid out
    assert ratelimit.check_installation(7, now=T0 + 119).allowed


def test_refused_requests_do_not_use_up_the_budget(limits):
    for i in range(10):
        ratelimit.check_installation(8, now=T0 + i)
    for _ in range(50):
        assert not ratelimit.check_installation(8, now=T0 + 20).allowed
    # next window: previous counts 10 (not 60): 25 s in, 10 * 35/60 = 5.8 -> 4 more fit
    allowed = sum(ratelimit.check_installation(8, now=T0 + 85).allowed for _ in range(10))
    assert allowed == 4


def test_installations_have_separate_budgets(limits):
    for i in range(10):
        ratelimit.check_installation(1, now=T0 + i)
    assert not ratelimit.check_installation(1, now=T0 + 10).allowed
    assert ratelimit.check_installation(2, now=T0 + 10).allowed


def test_burst_is_per_second(settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 0
    settings.SCIM_RATE_LIMIT_BURST = 3
    assert [ratelimit.check_installation(3, now=T0).allowed for _ in range(4)] == [True, True, True, False]
    assert ratelimit.check_installation(3, now=T0).retry_after == 1
    assert ratelimit.check_installation(3, now=T0 + 1).allowed


def test_zero_turns_limits_off(settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 0
    settings.SCIM_RATE_LIMIT_BURST = 0
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 0
    assert all(ratelimit.check_installation(4, now=T0).allowed for _ in range(100))
    for _ in range(100):
        ratelimit.note_auth_failure("127.0.1.1", now=T0)
    assert ratelimit.check_address("127.0.1.1", now=T0).allowed


def test_address_is_locked_out_after_failures(limits):
    for _ in range(4):
        ratelimit.note_auth_failure("127.0.1.9", now=T0 + 1)
    assert ratelimit.check_address("127.0.1.9", now=T0 + 2).allowed
    ratelimit.note_auth_failure("127.0.1.9", now=T0 + 2)
    refused = ratelimit.check_address("127.0.1.9", now=T0 + 3)
    assert not refused.allowed and refused.retry_after == 57
    assert ratelimit.check_address("127.0.1.10", now=T0 + 3).allowed
    assert ratelimit.check_address("127.0.1.9", now=T0 + 120).allowed


BROKEN_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_cache_outage_fails_open_and_is_logged(limits, caplog):
    limits.CACHES = BROKEN_REDIS
    with caplog.at_level(logging.WARNING, logger="orgdesk.scim.ratelimit"):
        assert all(ratelimit.check_installation(5, now=T0).allowed for _ in range(20))
        ratelimit.note_auth_failure("127.0.1.1")
        assert ratelimit.check_address("127.0.1.1").allowed
    assert "rate limiting unavailable" in caplog.text


# --- wired into the SCIM API -----------------------------------------------------


def test_scim_requests_over_the_limit_get_429_with_retry_after(limits, scim):
    statuses = [scim.get("/Users").status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert_429(scim.get("/Users"))
    assert_429(scim.post("/Users", {"userName": "x@example.com"}))


def test_other_installations_are_not_slowed_by_a_noisy_one(limits, scim, other_org):
    _, secret = enable_scim(other_org)
    other = ScimClient(other_org, secret, Client())
    for _ in range(10):
        scim.get("/Users")
    assert scim.get("/Users").status_code == 429
    assert other.get("/Users").status_code == 200


def test_bad_tokens_from_one_address_lock_that_address_out(limits, scim, org):
    bad = ScimClient(org, "odk_deadbeef_not-a-real-token", Client())
    for _ in range(5):
        assert bad.get("/Users").status_code == 401
    assert_429(bad.get("/Users"))
    assert_429(bad.post("/Users", {"userName": "x@example.com"}))
    other_address = bad.client.get(bad.url("/Users"), HTTP_AUTHORIZATION=f"Bearer {bad.token}", REMOTE_ADDR="127.0.2.4")
    assert other_address.status_code == 401


def test_a_valid_token_is_served_from_a_locked_out_address(limits, scim, org):
    """A client behind a shared NAT or proxy must not be locked out by someone
    else's bad tokens from the same address: a valid token cannot be guessed."""
    bad = ScimClient(org, "odk_deadbeef_not-a-real-token", Client())
    for _ in range(5):
        bad.get("/Users")
    assert_429(bad.get("/Users"))
    assert scim.get("/Users").status_code == 200
    assert_429(bad.get("/Users"))  # serving the good client did not lift the lockout


def test_a_locked_out_address_is_not_charged_more_failures(limits, scim, org):
    bad = ScimClient(org, "odk_deadbeef_not-a-real-token", Client())
    for _ in range(5):
        bad.get("/Users")
    for _ in range(20):
        assert_429(bad.get("/Users"))
    window = int(time.time() // ratelimit.MINUTE)
    counts = cache.get_many([f"scim-rl:authfail:127.0.0.1:{w}" for w in (window - 1, window)])
    assert sum(counts.values()) == 5  # either side of a minute boundary


def test_a_valid_token_never_reads_the_address_lockout(limits, scim, monkeypatch):
    calls = []
    monkeypatch.setattr(ratelimit, "check_address", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(ratelimit, "note_auth_failure", lambda *a, **k: calls.append(a))
    assert scim.get("/Users").status_code == 200
    assert calls == []


def test_a_limited_installation_writes_nothing(limits, scim):
    from tests.hardening.snapshot import snapshot

    for _ in range(10):
        scim.get("/Users")
    before = snapshot()
    assert scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n@example.com"}).status_code == 429
    assert snapshot() == before


@pytest.mark.redis
def test_limits_are_shared_through_redis(limits, redis_cache, scim):
    """With REDIS_URL every process sees the same counters."""
    for _ in range(10):
        assert scim.get("/Users").status_code == 200
    assert_429(scim.get("/Users"))
    # another "process": a separate connection to the same Redis sees the count
    prefix = limits.CACHES["default"]["KEY_PREFIX"]
    keys = [k.decode() for k in redis_cache.scan_iter(f"{prefix}:*scim-rl:inst:*")]
    assert keys, "the installation counter lives in Redis"


def test_a_flood_of_refused_requests_writes_one_activity_row(limits, scim, org, django_assert_num_queries):
    from scim import activity
    from scim.models import ProvisioningEvent

    for _ in range(10):
        scim.get("/Users")
    before = ProvisioningEvent.objects.filter(organization=org).count()
    for _ in range(25):
        assert scim.get("/Users").status_code == 429
    with django_assert_num_queries(1):  # one INSERT for the whole flood
        activity.flush()
    assert ProvisioningEvent.objects.filter(organization=org).count() == before + 1
    refused = ProvisioningEvent.objects.get(organization=org, status=429)
    assert (refused.occurrences, refused.operation, refused.installation_id) == (25, "List users", scim_installation(org))
    assert refused.detail.startswith("Too many requests for this app installation")


def scim_installation(org) -> int:
    return org.app_installations.get().pk
