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
from scim.tokens import Refusal, check

from . import constants as c
from . import ratelimit
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


def check_request(request: HttpRequest, org_uid: str) -> HttpResponse | None:
    """Authenticate the request for this org and count it against its
    installation's limits: None when it may proceed, else the 401/429 to answer."""
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


class ScimAuthCheckMiddleware:
    """The AUTH_CHECK_MIDDLEWARE of SCIM_SERVICE_PROVIDER (a view decorator)."""

    def __init__(self, get_response: Callable[..., HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if (refused := check_request(request, kwargs.get("org_uid", ""))) is not None:
            return refused
        return self.get_response(request, *args, **kwargs)
