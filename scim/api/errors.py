"""SCIM errors (RFC 7644 §3.12) and the one place an exception becomes a SCIM
response (`response_for_exception`, called by scim.api.middleware for anything a
SCIM view raises). Views and adapters raise; they never build error responses
for exceptions themselves. Built on django-scim2's SCIMException; `status` is
always a string on the wire."""
from __future__ import annotations

import json
import logging

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django_scim import exceptions as scim_exceptions
from django_scim.settings import scim_settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import constants as c

logger = logging.getLogger("orgdesk.scim")

ScimError = scim_exceptions.SCIMException


class BadRequest(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_INVALID_VALUE


class InvalidSyntax(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_INVALID_SYNTAX


class InvalidFilter(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_INVALID_FILTER


class InvalidPath(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_INVALID_PATH


class NoTarget(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_NO_TARGET


class Mutability(scim_exceptions.BadRequestError):
    scim_type = c.SCIM_TYPE_MUTABILITY


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    """django-scim2's NotFoundError takes a uuid; ours takes a message."""

    status = 404


class Conflict(scim_exceptions.IntegrityError):
    scim_type = c.SCIM_TYPE_UNIQUENESS


class PreconditionFailed(ScimError):
    """If-Match names a version that is no longer current (RFC 7644 §3.14): no scimType."""

    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class UnsupportedMediaType(ScimError):
    status = 415


def error_payload(status: int, detail: str, scim_type: str | None = None) -> dict:
    payload = {"schemas": [c.ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        payload["scimType"] = scim_type
    return payload


def error_response(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_payload(status, detail, scim_type)), content_type=c.SCIM_CONTENT_TYPE, status=status
    )
    if status == 401:
        response["WWW-Authenticate"] = scim_settings.WWW_AUTHENTICATE_HEADER
    return response


def exception_response(exc: ScimError) -> HttpResponse:
    return error_response(int(exc.status), str(exc.detail), exc.scim_type)


# --- outages: a backing service briefly unreachable ----------------------------------
# PostgreSQL (or the cache) unreachable: SCIM clients get 503 SCIM JSON with
# Retry-After, which Okta and Entra both retry, instead of a 500 (which they
# report as a failed push) or a hung connection (DB_CONNECT_TIMEOUT bounds the
# wait). Nothing needs resetting afterwards: Django drops a broken connection at
# the end of the request (conn_health_checks) and the next request reconnects.


OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """A database or cache that cannot be reached (or a lock/deadlock the client
    should simply retry): OperationalError covers refused connections, dropped
    connections, timeouts and PostgreSQL's deadlock_detected."""
    return isinstance(exc, OUTAGE_ERRORS)


def unavailable_response() -> HttpResponse:
    response = error_response(503, c.DETAIL_UNAVAILABLE.format(seconds=c.RETRY_AFTER_SECONDS))
    response["Retry-After"] = str(c.RETRY_AFTER_SECONDS)
    return response


# --- the one mapping of exceptions to SCIM responses -----------------------------------


def response_for_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Outage -> 503 with Retry-After; a SCIM error -> its status and scimType;
    what Django itself would answer 4xx (too many query parameters, Http404,
    PermissionDenied) -> that status; anything else -> 500, logged, and nothing
    of the exception in the body."""
    if is_outage(exc):
        logger.warning(
            "SCIM %s %s: backing service unavailable (%s); answered 503",
            request.method, request.path, type(exc).__name__,
        )
        return unavailable_response()
    if isinstance(exc, ScimError):
        return exception_response(exc)
    if isinstance(exc, SuspiciousOperation):  # e.g. more query parameters than Django parses
        return exception_response(InvalidSyntax(f"Malformed request: {exc}"))
    if isinstance(exc, Http404):
        return error_response(404, c.DETAIL_ROUTE_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return error_response(403, "Forbidden")
    org = getattr(request, "scim_org", None)
    logger.exception(
        "Unhandled error in SCIM request %s %s", request.method, request.path,
        extra={"org_uid": org.uid if org is not None else ""},
    )
    return error_response(500, c.DETAIL_SERVER_ERROR)
