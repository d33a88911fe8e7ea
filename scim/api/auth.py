"""Bearer-token authentication for the SCIM API.

django-scim2 applies its AUTH_CHECK_MIDDLEWARE as a decorator around every SCIM
view's `dispatch` (it is *not* listed in MIDDLEWARE); ours resolves the token for
the org in the URL and hangs the installation and org on the request. Every
failure, an unknown org included (so org uids cannot be probed), is the same
401 SCIM error with a WWW-Authenticate header, or 429 once the client address
has sent too many bad tokens. The token is always checked first: a valid token
is served whatever its address did (a shared NAT or proxy address must not lock
out a good client), and only an authenticated request is counted against its
installation's limits."""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from scim.tokens import authenticate

from . import constants as c
from . import ratelimit
from .errors import error_response

BEARER = "bearer"


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        return None
    return token.strip()


def authenticate_request(request: HttpRequest, org_uid: str) -> bool:
    """Set request.scim_installation / scim_org / scim_token on success."""
    token = bearer_token(request)
    row = authenticate(token, org_uid) if token else None
    if row is None:
        return False
    request.scim_token = row
    request.scim_installation = row.installation
    request.scim_org = row.installation.organization
    return True


class ScimAuthCheckMiddleware:
    """The AUTH_CHECK_MIDDLEWARE of SCIM_SERVICE_PROVIDER (a view decorator)."""

    def __init__(self, get_response: Callable[..., HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not authenticate_request(request, kwargs.get("org_uid", "")):
            # The address lockout is consulted only for a failed token: a valid
            # token is never refused by it (see ratelimit's docstring), and the
            # happy path reads no failure counters. A locked-out address is
            # answered without counting the failure, as before.
            if (refused := ratelimit.refuse_locked_out_address(request)) is not None:
                return refused
            ratelimit.record_auth_failure(request)
            return error_response(401, c.DETAIL_UNAUTHENTICATED)
        if (refused := ratelimit.refuse_over_limit(request)) is not None:
            return refused
        return self.get_response(request, *args, **kwargs)
