"""Bearer-token authentication for the SCIM API.

django-scim2 applies its AUTH_CHECK_MIDDLEWARE as a decorator around every SCIM
view's `dispatch` (it is *not* listed in MIDDLEWARE); ours resolves the token for
the org in the URL and hangs the installation and org on the request. A failure
is a 401 SCIM error with a WWW-Authenticate header, or 429 once the client
address has sent too many bad tokens. The 401 says why (an IdP admin must know
whether to paste a new token or ask for SCIM to be switched on), but only the
holder of one of this org's own tokens learns more than "Unknown token":
another org's token, a forged one, no token, and an org uid that does not exist
all get the same answer, so an org's existence and state never leak. The token
is always checked first: a valid token is served whatever its address did (a
shared NAT or proxy address must not lock out a good client), and only an
authenticated request is counted against its installation's limits.

Every refusal is noted on the request (`scim_refused`) for the Provisioning
activity list, which records it off the request path (scim.activity)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from scim import tokens
from scim.redis_client import redis_client
from scim.tokens import Refusal, check

from . import constants as c
from . import ratelimit, totals
from .errors import error_response

BEARER = "bearer"

DETAILS = {
    tokens.NO_TOKEN: c.DETAIL_NO_TOKEN,
    tokens.UNKNOWN: c.DETAIL_UNKNOWN_TOKEN,
    tokens.REVOKED: c.DETAIL_TOKEN_REVOKED,
    tokens.SCIM_OFF: c.DETAIL_SCIM_DISABLED,
}


@dataclass(frozen=True)
class RefusedCall:
    """A SCIM call refused before any view ran (401, 429), as the Provisioning
    activity list records it: the org is named by the uid in the URL (an uid of
    no org records nothing), the installation only if the token was one of
    this org's."""

    org_uid: str
    installation_id: int | None
    reason: str


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        return None
    return token.strip()


def authenticate_request(request: HttpRequest, org_uid: str) -> Refusal | None:
    """Set request.scim_installation / scim_org / scim_token on success; on
    failure, return why."""
    token = bearer_token(request)
    result = check(token, org_uid) if token else Refusal(tokens.NO_TOKEN)
    if isinstance(result, Refusal):
        return result
    request.scim_token = result
    request.scim_installation = result.installation
    request.scim_org = result.installation.organization
    return None


def note_refusal(request: HttpRequest, org_uid: str, installation_id: int | None, reason: str) -> None:
    request.scim_refused = RefusedCall(org_uid, installation_id, reason)


def check_request(request: HttpRequest, org_uid: str, *, shared_token: bool = False,
                  users_total: bool = False) -> HttpResponse | None:
    """Authenticate the request for this org and count it against its
    installation's limits: None when it may proceed, else the 401/429 to answer.

    In one Redis roundtrip when this process remembers the token (_remembered);
    else the token is checked (tokens.check: a Redis GET of the version, the
    database when it moved) and counted (ratelimit: one pipeline).
    `shared_token`: the remembered token's objects may be the ones other
    requests of this process use (a read that only reads them); else each
    request gets its own. `users_total`: the cached total of the org's users is
    read in the same roundtrip (`request._scim_cached_total`)."""
    remembered = _remembered(request, org_uid, shared_token=shared_token, users_total=users_total)
    if remembered is not UNDECIDED:
        return remembered
    if (refusal := authenticate_request(request, org_uid)) is not None:
        # The address lockout is consulted only for a failed token: a valid
        # token is never refused by it (see ratelimit's docstring), and the
        # happy path reads no failure counters. A locked-out address is
        # answered without counting the failure, as before.
        if (refused := ratelimit.refuse_locked_out_address(request)) is not None:
            note_refusal(request, org_uid, refusal.installation_id, ratelimit.ADDRESS_LOCKED)
            return refused
        ratelimit.record_auth_failure(request)
        note_refusal(request, org_uid, refusal.installation_id, refusal.reason)
        return error_response(401, DETAILS[refusal.reason])
    if (refused := ratelimit.refuse_over_limit(request)) is not None:
        note_refusal(request, org_uid, request.scim_installation.pk, ratelimit.OVER_LIMIT)
        return refused
    return None


# --- a remembered token: one Redis roundtrip ------------------------------------------

# One Redis command for what every request with a remembered token asks of Redis:
# whether the token's version still stands and, only if it does, the
# installation's rate-limit counters (as scim.api.ratelimit counts them, on the
# same keys) and, for an unfiltered page, the cached total. A script rather than
# a pipeline of six commands: the counters are not touched when the version moved
# (the regular check then counts the request itself, so nothing has to be taken
# back), and one command costs the process a fraction of what packing and parsing
# six did.
# KEYS: version, second counter, minute counter, previous minute counter[, total].
# ARGV: the version the token was remembered with, burst cap, per-minute limit (0: off).
_SCRIPT = """
local version = redis.call('GET', KEYS[1])
if version ~= ARGV[1] then return {0} end
local second, minute, previous, total = 0, 0, false, false
if ARGV[2] ~= '0' then
  second = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 2)
end
if ARGV[3] ~= '0' then
  minute = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 120)
  previous = redis.call('GET', KEYS[4])
end
if KEYS[5] then total = redis.call('GET', KEYS[5]) end
return {1, second, minute, previous, total}
"""
_scripts: dict[int, tuple[object, object]] = {}  # id(client) -> (client, its registered script)
UNDECIDED = object()  # _remembered could not decide: the regular check does


def _script(client):
    found = _scripts.get(id(client))
    if found is None or found[0] is not client:
        found = _scripts[id(client)] = (client, client.register_script(_SCRIPT))
    return found[1]


def _remembered(request: HttpRequest, org_uid: str, *, shared_token: bool, users_total: bool):
    """check_request for a token this process remembers (tokens.remembered),
    in one Redis roundtrip: None (go on), the 429 to answer, or UNDECIDED
    (nothing remembered, Redis unreachable, or the version moved, which counted
    nothing) for the regular check."""
    client = redis_client()
    secret = bearer_token(request) if client is not None else None
    hit = tokens.remembered(secret, org_uid, shared=shared_token) if secret else None
    if hit is None:
        return UNDECIDED
    token, version = hit
    installation = token.installation
    count = ratelimit.request_count(installation.pk)
    if count is None:
        keys = [tokens.auth_version_key(), "-", "-", "-"]
        args = [version, 0, 0]
    else:
        keys = [tokens.auth_version_key(), count.second_key, count.minute_key, count.previous_minute_key]
        args = [version, max(count.burst, 0), max(count.per_minute, 0)]
    if users_total:
        keys.append(totals.redis_key(totals.USERS, installation.organization_id))
    try:
        reply = _script(client)(keys=keys, args=args)
    except Exception:  # Redis unreachable: the regular check decides (and fails open)
        return UNDECIDED
    if not reply[0]:  # something about the token changed (nothing was counted): check again
        return UNDECIDED
    request.scim_token = token
    request.scim_installation = installation
    request.scim_org = installation.organization
    if users_total:
        request._scim_cached_total = reply[4]
    if count is not None:
        try:
            decision = count.decide_counts(client, reply[1], reply[2], reply[3])
        except Exception:
            decision = ratelimit.ALLOW  # as check_installation: the limits fail open
        if not decision.allowed:
            note_refusal(request, org_uid, installation.pk, ratelimit.OVER_LIMIT)
            return ratelimit.too_many_requests(decision, ratelimit.DETAIL_RATE_LIMITED)
    return None


class ScimAuthCheckMiddleware:
    """The AUTH_CHECK_MIDDLEWARE of SCIM_SERVICE_PROVIDER (a view decorator)."""

    def __init__(self, get_response: Callable[..., HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (refused := check_request(request, kwargs.get("org_uid", ""))) is not None:
            return refused
        return self.get_response(request, *args, **kwargs)
