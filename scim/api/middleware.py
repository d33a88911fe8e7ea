"""One middleware for everything under /scim/: whatever produced the response
(our views, Django's URL resolver 404, an uncaught exception), clients get SCIM
JSON with `application/scim+json`; each call is logged (with the request id,
config/logging.py), counted in the Prometheus metrics and recorded as
provisioning activity. Never logs tokens or bodies.

It is the one SCIM error path: every exception a SCIM view raises reaches
`process_exception`, which hands it to scim.api.errors.response_for_exception
(outage 503, SCIM errors their status, anything else 500)."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from scim.activity import record_request
from scim.metrics import observe_request

from . import constants as c
from . import ignored
from .errors import error_response, response_for_exception

logger = logging.getLogger("orgdesk.scim")

DEFAULT_DETAILS = {
    400: "Bad request",
    401: c.DETAIL_UNAUTHENTICATED,
    403: "Forbidden",
    404: c.DETAIL_ROUTE_NOT_FOUND,
    405: c.DETAIL_METHOD_NOT_ALLOWED,
    413: "Request body too large",
    415: c.DETAIL_UNSUPPORTED_MEDIA,
    500: c.DETAIL_SERVER_ERROR,
}


def _is_scim_error(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith(c.SCIM_CONTENT_TYPE):
        return False
    try:
        doc = json.loads(response.content)
    except (ValueError, AttributeError):
        return False
    return isinstance(doc, dict) and c.ERROR_SCHEMA in doc.get("schemas", [])


def error_detail(response: HttpResponse) -> str:
    if response.status_code < 400:
        return ""
    try:
        doc = json.loads(response.content)
        return str(doc.get("detail", ""))
    except (ValueError, AttributeError):
        return ""


class ScimApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(c.SCIM_PATH_PREFIX):
            return self.get_response(request)
        started = request.scim_started = time.monotonic()  # (scim.activity.entry_with_change)
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_scim_error(response):
            allow = response.get("Allow")
            response = error_response(
                response.status_code, DEFAULT_DETAILS.get(response.status_code, "Request failed")
            )
            if allow:
                response["Allow"] = allow
        elif not getattr(response, "streaming", False) and response.status_code not in (204, 304):
            response["Content-Type"] = c.SCIM_CONTENT_TYPE
        elapsed = time.monotonic() - started
        duration_ms = int(elapsed * 1000)
        self.log(request, response, duration_ms)
        observe_request(request, response.status_code, elapsed)

        # A failure's detail is its error; a success names what it ignored (scim.api.ignored).
        record_request(request, response, duration_ms, detail=error_detail(response) or ignored.describe(request))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(c.SCIM_PATH_PREFIX):
            return None  # the admin and the REST API keep Django's own error handling
        return response_for_exception(request, exception)

    @staticmethod
    def log(request: HttpRequest, response: HttpResponse, duration_ms: int) -> None:
        installation = getattr(request, "scim_installation", None)
        org = getattr(request, "scim_org", None)
        fields = {
            "org_uid": org.uid if org else "",
            "installation_id": installation.pk if installation else None,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        }
        logger.info(
            "scim %(method)s %(path)s %(status)s %(duration_ms)sms org=%(org_uid)s installation=%(installation_id)s",
            fields,
            extra={"scim": fields},
        )
