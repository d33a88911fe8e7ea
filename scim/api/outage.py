"""PostgreSQL (or the cache) briefly unreachable: SCIM clients get 503 SCIM JSON
with Retry-After, which Okta and Entra both retry, instead of a 500 (which they
report as a failed push) or a hung connection (DB_CONNECT_TIMEOUT bounds the
wait). Nothing needs resetting afterwards: Django drops a broken connection at
the end of the request (conn_health_checks) and the next request reconnects.

Listed in MIDDLEWARE after scim.api.middleware.ScimApiMiddleware, so its
process_exception runs first and the outer middleware still logs the call."""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from . import constants as c
from .errors import error_response

logger = logging.getLogger("orgdesk.scim")



def _outage_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        types += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(types)


OUTAGE_ERRORS = _outage_types()


def is_outage(exc: BaseException) -> bool:
    """A database or cache that cannot be reached (or a lock/deadlock the client
    should simply retry): OperationalError covers refused connections, dropped
    connections, timeouts and PostgreSQL's deadlock_detected."""
    return isinstance(exc, OUTAGE_ERRORS)


def unavailable_response() -> HttpResponse:
    response = error_response(503, c.DETAIL_UNAVAILABLE.format(seconds=c.RETRY_AFTER_SECONDS))
    response["Retry-After"] = str(c.RETRY_AFTER_SECONDS)
    return response


class ScimOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(c.SCIM_PATH_PREFIX) or not is_outage(exception):
            return None
        logger.warning(
            "SCIM %s %s: backing service unavailable (%s); answered 503",
            request.method, request.path, type(exception).__name__,
        )
        return unavailable_response()
