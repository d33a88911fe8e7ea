"""The installation limit on a real Redis: one pipelined roundtrip per allowed
request, the same decisions as the generic cache path, counters Django's
RedisCache reads back. Each test uses its own key prefix on REDIS_URL's server
and database (.ci/run points it at a database of its own) and deletes only its
keys."""
from __future__ import annotations


import pytest
import redis
from django.core.cache import cache
from django.test import Client

from scim.api import ratelimit
from tests.scim.api.helpers import ScimClient

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

T0 = 1_800_000_000.0  # the start of a minute window (divisible by 60)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 10
    settings.SCIM_RATE_LIMIT_BURST = 0
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 5


@pytest.fixture
def roundtrips(monkeypatch):
    """Counts requests written to Redis (one packed write each)."""
    sent: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(1)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_the_redis_path_is_taken(redis_cache):
    assert ratelimit.redis_client() is not None


def test_an_allowed_request_costs_one_roundtrip(redis_cache, roundtrips, settings):
    settings.SCIM_RATE_LIMIT_BURST = 100
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 100
    ratelimit.check_installation(1, now=T0)  # connects (HELLO, SELECT) once
    roundtrips.clear()
    for i in range(1, 20):
        assert ratelimit.check_installation(1, now=T0 + i).allowed
    assert len(roundtrips) == 19


def test_the_minute_limit_refuses_at_exactly_the_configured_count(redis_cache):
    assert [ratelimit.check_installation(7, now=T0 + i).allowed for i in range(11)] == [True] * 10 + [False]
    refused = ratelimit.check_installation(7, now=T0 + 30)
    assert not refused.allowed and refused.retry_after == 36  # as on the generic path
    assert cache.get(f"{ratelimit.KEY_PREFIX}:inst:7:{int(T0 // 60)}") == 10  # refused requests are not counted


def test_the_sliding_window_reads_the_previous_minute(redis_cache):
    for i in range(10):
        ratelimit.check_installation(7, now=T0 + i)
    # 15 s into the next minute 3/4 of the previous 10 still count: 7.5 + 1 + 1 + 1 = 10.5 > 10
    assert ratelimit.check_installation(7, now=T0 + 75).allowed
    assert ratelimit.check_installation(7, now=T0 + 75).allowed
    later = ratelimit.check_installation(7, now=T0 + 75)
    assert not later.allowed and 1 <= later.retry_after <= 45
    assert ratelimit.check_installation(7, now=T0 + 119).allowed


def test_refused_requests_do_not_use_up_the_budget(redis_cache):
    for i in range(10):
        ratelimit.check_installation(8, now=T0 + i)
    for _ in range(50):
        assert not ratelimit.check_installation(8, now=T0 + 20).allowed
    # next window: previous counts 10 (not 60): 25 s in, 10 * 35/60 = 5.8 -> 4 more fit
    assert sum(ratelimit.check_installation(8, now=T0 + 85).allowed for _ in range(10)) == 4


def test_the_burst_limit_refuses_at_exactly_the_configured_count(redis_cache, settings):
    settings.SCIM_RATE_LIMIT_BURST = 3
    assert [ratelimit.check_installation(3, now=T0).allowed for _ in range(5)] == [True, True, True, False, False]
    assert ratelimit.check_installation(3, now=T0).retry_after == 1
    # burst-refused requests were not counted in the minute either, as on the generic path
    assert cache.get(f"{ratelimit.KEY_PREFIX}:inst:3:{int(T0 // 60)}") == 3
    assert ratelimit.check_installation(3, now=T0 + 1).allowed


def test_counters_expire(redis_cache, settings):
    settings.SCIM_RATE_LIMIT_BURST = 3
    ratelimit.check_installation(4, now=T0)
    burst_ttl = redis_cache.ttl(cache.make_key(f"{ratelimit.KEY_PREFIX}:burst:4:{int(T0)}"))
    minute_ttl = redis_cache.ttl(cache.make_key(f"{ratelimit.KEY_PREFIX}:inst:4:{int(T0 // 60)}"))
    assert 0 < burst_ttl <= 2 and 60 < minute_ttl <= 120


def test_installations_have_separate_budgets(redis_cache):
    for i in range(10):
        ratelimit.check_installation(1, now=T0 + i)
    assert not ratelimit.check_installation(1, now=T0 + 10).allowed
    assert ratelimit.check_installation(2, now=T0 + 10).allowed


def test_one_client_per_process(redis_cache):
    assert ratelimit.redis_client() is ratelimit.redis_client()


def test_redis_down_fails_open(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1
    settings.SCIM_RATE_LIMIT_BURST = 1
    with caplog.at_level("WARNING", logger="orgdesk.scim.ratelimit"):
        assert all(ratelimit.check_installation(5, now=T0).allowed for _ in range(5))
    assert "rate limiting unavailable (installation limit)" in caplog.text


# --- through the SCIM API --------------------------------------------------------


def test_a_scim_request_with_a_valid_token_costs_one_redis_roundtrip(redis_cache, scim, roundtrips):
    assert scim.get("/Users").status_code == 200  # connects once
    assert scim.get("/Users").status_code == 200  # the token is remembered from here on
    roundtrips.clear()
    assert scim.get("/Users").status_code == 200
    # A hot read (scim.api.fast_reads): the token cache's version, the
    # installation limit and the cached total in one script call.
    assert len(roundtrips) == 1
    roundtrips.clear()
    assert scim.get("/Groups").status_code == 200
    # Any other request too (scim.api.auth.check_request): the version and the
    # installation limit in the same script; the address lockout is not read on
    # the happy path.
    assert len(roundtrips) == 1


def test_scim_over_the_limit_and_address_lockout_on_redis(redis_cache, scim, org):
    assert [scim.get("/Users").status_code for _ in range(11)] == [200] * 10 + [429]
    bad = ScimClient(org, "odk_deadbeef_not-a-real-token", Client())
    assert [bad.get("/Users").status_code for _ in range(6)] == [401] * 5 + [429]
    assert scim.get("/Users").status_code == 429  # its installation is over the limit, not its address
