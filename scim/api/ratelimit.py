"""Abuse limits for the SCIM API, kept in Django's cache (Redis when REDIS_URL is
set, so every worker process shares them; process memory otherwise).

- Per installation: a sliding one-minute window of SCIM_RATE_LIMIT_PER_MINUTE
  requests plus a one-second cap of SCIM_RATE_LIMIT_BURST. The defaults are far
  above what Okta (about 600 requests a minute to an app) and Entra (bursts of
  parallel PATCHes during a cycle) send, so only a runaway client is stopped.
  This runs on every authenticated request, so on Redis both counters cost one
  pipelined roundtrip on a client built once per process (Django's
  RedisCacheClient.get_client() builds a new redis.Redis per call, and its
  add + exists + incr costs three roundtrips per counter).
- Per client address (organizations.request_context.client_address: through
  the trusted proxies only): after SCIM_AUTH_FAILURES_PER_MINUTE requests with a bad
  token within a minute, further bad tokens from that address get 429 instead
  of 401, until the window slides past the failures. The lockout is consulted
  only once a token has failed: a valid token is always served, since a 256-bit
  token cannot be guessed and a client behind a shared NAT or proxy address
  must not be locked out by someone else's bad tokens. The happy path therefore
  never reads the failure counters.

Over a limit: 429 SCIM JSON with Retry-After (RFC 7644 §3.12 lists 429 as
"too many requests"). If the cache itself is down the limits fail open: a Redis
outage must not become a SCIM outage; it is logged."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from organizations import request_context
from scim.redis_client import redis_client

from .errors import error_response

logger = logging.getLogger("orgdesk.scim.ratelimit")

KEY_PREFIX = "scim-rl"
MINUTE = 60
DETAIL_RATE_LIMITED = "Too many requests for this app installation: retry after {seconds} s"
DETAIL_AUTH_LOCKED = "Too many requests with an invalid token from this address: retry after {seconds} s"
# Why a call was refused with 429 (scim.api.auth notes it for the activity list).
OVER_LIMIT = "over-limit"
ADDRESS_LOCKED = "address-locked"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0


ALLOW = Decision(True)


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def client_address(request: HttpRequest) -> str:
    """The client's address through the trusted proxies (the proxy's own would
    pool every client into one failure budget)."""
    return request_context.client_address(request)


def _incr(key: str, timeout: int, by: int = 1) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, by)
    except ValueError:  # expired between add and incr
        cache.set(key, by, timeout=timeout)
        return by


def _sliding(kind: str, ident: str, now: float) -> tuple[str, int, float]:
    """(current window key, previous window count, weight of the previous window)."""
    window = int(now // MINUTE)
    previous = cache.get(f"{KEY_PREFIX}:{kind}:{ident}:{window - 1}") or 0
    weight = 1 - (now % MINUTE) / MINUTE
    return f"{KEY_PREFIX}:{kind}:{ident}:{window}", int(previous), weight


def _retry_after(previous: int, current: int, limit: int, now: float) -> int:
    """Seconds until the sliding estimate (previous * share of the window still
    covered + current) drops back under the limit; at least 1."""
    left = MINUTE - now % MINUTE
    if current < limit:
        # Within this window: previous * (left - t) / 60 + current < limit.
        wait = left - MINUTE * (limit - current) / previous if previous else 0
        wait = min(wait, left)  # at the boundary only `current` remains, and it is under the limit
    else:
        # Only in the next window: current * (1 - t / 60) < limit.
        wait = left + MINUTE * (1 - limit / current)
    return max(1, math.ceil(wait))


def _fail_open(what: str) -> Decision:
    logger.warning("SCIM rate limiting unavailable (%s); allowing the request", what, exc_info=True)
    return ALLOW


def check_installation(installation_id: int, *, now: float | None = None) -> Decision:
    """Count one request of an installation; refuse it when over a limit."""
    per_minute = _limit("SCIM_RATE_LIMIT_PER_MINUTE", 6000)
    burst = _limit("SCIM_RATE_LIMIT_BURST", 500)
    if per_minute <= 0 and burst <= 0:
        return ALLOW
    now = time.time() if now is None else now
    try:
        if (client := redis_client()) is not None:
            return _check_installation_redis(client, installation_id, per_minute, burst, now)
        if burst > 0:
            second_key = f"{KEY_PREFIX}:burst:{installation_id}:{int(now)}"
            if _incr(second_key, timeout=2) > burst:
                return Decision(False, 1)
        if per_minute > 0:
            key, previous, weight = _sliding("inst", str(installation_id), now)
            current = _incr(key, timeout=2 * MINUTE)
            if previous * weight + current > per_minute:
                cache.decr(key)  # a refused request does not use up the budget
                return Decision(False, _retry_after(previous, current, per_minute, now))
    except Exception:
        return _fail_open("installation limit")
    return ALLOW


# --- Redis: the installation limit in one roundtrip ---------------------------

def _check_installation_redis(client, installation_id: int, per_minute: int, burst: int, now: float) -> Decision:
    """Same decisions as the generic path, with its counters on the same keys
    (cache.make_key; RedisSerializer stores ints as plain integers, so INCR
    works on them and cache.get reads them back). INCR creates a missing key,
    so there is no add-then-incr race; EXPIRE is refreshed on every request,
    harmless as every key names its own second or minute. Only a refusal
    costs a second roundtrip, to undo its minute count."""
    pipe = client.pipeline(transaction=False)
    count = queue_installation_count(pipe, installation_id, per_minute, burst, now)
    return count.decide(client, pipe.execute())


@dataclass(frozen=True)
class QueuedCount:
    """The installation's counters, queued on a Redis pipeline (`decide` reads
    their replies), or counted by scim.api.fast_reads' script (`decide_counts`)."""

    installation_id: int
    per_minute: int
    burst: int
    now: float
    commands: int

    @property
    def minute_key(self) -> str:
        return cache.make_key(f"{KEY_PREFIX}:inst:{self.installation_id}:{int(self.now // MINUTE)}")

    @property
    def previous_minute_key(self) -> str:
        return cache.make_key(f"{KEY_PREFIX}:inst:{self.installation_id}:{int(self.now // MINUTE) - 1}")

    @property
    def second_key(self) -> str:
        return cache.make_key(f"{KEY_PREFIX}:burst:{self.installation_id}:{int(self.now)}")

    def decide(self, client, replies: list) -> Decision:
        replies = replies[: self.commands]
        second = replies[0] if self.burst > 0 else 0
        minute, previous = (replies[-3], replies[-1]) if self.per_minute > 0 else (0, None)
        return self.decide_counts(client, second, minute, previous)

    def decide_counts(self, client, second: int, minute: int, previous) -> Decision:
        """The decision on the counts this request brought the counters to
        (`previous`: the previous minute's count, None if none)."""
        if self.burst > 0 and int(second) > self.burst:
            if self.per_minute > 0:
                client.decr(self.minute_key)  # the generic path never counted it in the minute
            return Decision(False, 1)
        if self.per_minute > 0:
            current, previous = int(minute), int(previous or 0)
            weight = 1 - (self.now % MINUTE) / MINUTE
            if previous * weight + current > self.per_minute:
                client.decr(self.minute_key)  # a refused request does not use up the budget
                return Decision(False, _retry_after(previous, current, self.per_minute, self.now))
        return ALLOW


def queue_installation_count(pipe, installation_id: int, per_minute: int, burst: int, now: float) -> QueuedCount:
    count = QueuedCount(installation_id, per_minute, burst, now, 0)
    n = 0
    if burst > 0:
        pipe.incr(count.second_key)
        pipe.expire(count.second_key, 2)
        n += 2
    if per_minute > 0:
        pipe.incr(count.minute_key)
        pipe.expire(count.minute_key, 2 * MINUTE)
        pipe.get(count.previous_minute_key)
        n += 3
    return QueuedCount(installation_id, per_minute, burst, now, n)


def request_count(installation_id: int, *, now: float | None = None) -> QueuedCount | None:
    """What check_installation counts for this request (its keys and limits), for
    a caller that counts it in a roundtrip of its own; None when the limits are off."""
    per_minute = _limit("SCIM_RATE_LIMIT_PER_MINUTE", 6000)
    burst = _limit("SCIM_RATE_LIMIT_BURST", 500)
    if per_minute <= 0 and burst <= 0:
        return None
    return QueuedCount(installation_id, per_minute, burst, time.time() if now is None else now, 0)


def check_address(address: str, *, now: float | None = None) -> Decision:
    """Whether an address sent too many bad tokens recently (counts nothing).
    Asked only after a token failed, never on the happy path."""
    limit = _limit("SCIM_AUTH_FAILURES_PER_MINUTE", 30)
    if limit <= 0:
        return ALLOW
    now = time.time() if now is None else now
    window = int(now // MINUTE)
    key, previous_key = (f"{KEY_PREFIX}:authfail:{address}:{w}" for w in (window, window - 1))
    try:
        counts = cache.get_many([key, previous_key])  # one roundtrip
    except Exception:
        return _fail_open("address check")
    current, previous = int(counts.get(key) or 0), int(counts.get(previous_key) or 0)
    weight = 1 - (now % MINUTE) / MINUTE
    if previous * weight + current >= limit:
        return Decision(False, _retry_after(previous, current, limit, now))
    return ALLOW


def note_auth_failure(address: str, *, now: float | None = None) -> None:
    if _limit("SCIM_AUTH_FAILURES_PER_MINUTE", 30) <= 0:
        return
    now = time.time() if now is None else now
    try:
        key, _, _ = _sliding("authfail", address, now)
        _incr(key, timeout=2 * MINUTE)
    except Exception:
        _fail_open("recording an auth failure")


def too_many_requests(decision: Decision, detail: str) -> HttpResponse:
    response = error_response(429, detail.format(seconds=decision.retry_after))
    response["Retry-After"] = str(decision.retry_after)
    return response


# --- the calls the SCIM auth check makes -------------------------------


def refuse_locked_out_address(request: HttpRequest) -> HttpResponse | None:
    """After a failed authentication only: 429 when the address is locked out."""
    decision = check_address(client_address(request))
    return None if decision.allowed else too_many_requests(decision, DETAIL_AUTH_LOCKED)


def record_auth_failure(request: HttpRequest) -> None:
    note_auth_failure(client_address(request))


def refuse_over_limit(request: HttpRequest) -> HttpResponse | None:
    """429 when the request's installation is over a limit. A flood of refused
    requests costs no database write each: scim.activity coalesces them into
    one Provisioning activity entry per installation and window."""
    installation = getattr(request, "scim_installation", None)
    if installation is None:
        return None
    decision = check_installation(installation.pk)
    if decision.allowed:
        return None
    return too_many_requests(decision, DETAIL_RATE_LIMITED)
