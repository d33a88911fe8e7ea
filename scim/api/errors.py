"""SCIM error envelopes (RFC 7644 §3.12). Built on django-scim2's SCIMException
so its view `dispatch` renders ours too; `status` is always a string on the wire."""
from __future__ import annotations

import json

from django.http import HttpResponse
from django_scim import exceptions as scim_exceptions

from . import constants as c

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
        from django_scim.settings import scim_settings

        response["WWW-Authenticate"] = scim_settings.WWW_AUTHENTICATE_HEADER
    return response


def exception_response(exc: ScimError) -> HttpResponse:
    return error_response(int(exc.status), str(exc.detail), exc.scim_type)
