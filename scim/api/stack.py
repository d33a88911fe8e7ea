"""The SCIM API's own middleware stack.

Everything in MIDDLEWARE after SecurityMiddleware serves the browser: sessions,
CSRF, authentication, messages, the session lifetime and per-org session
checks, two-factor enrolment, CSP, static files. A SCIM call carries none of
what they read (a Bearer token, no cookie) and its views are CSRF-exempt, so
for a path under /scim/ this middleware ends the stack: the request goes
straight to the SCIM view (URL resolving and the view, as Django's handler
would call it), or, for the hot reads, to scim.api.fast_reads. What the rest of
the stack did that a SCIM call still needs is done here: the Host header is
checked against ALLOWED_HOSTS (CommonMiddleware), the response gets its
Content-Length (CommonMiddleware) and X-Frame-Options (XFrameOptionsMiddleware).
Above it, RequestContextMiddleware, ScimApiMiddleware (SCIM JSON, log, metrics,
activity) and SecurityMiddleware (HTTPS redirect, HSTS, nosniff) run as for
every request. See docs/ARCHITECTURE.md, "The SCIM API"."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import resolve

from . import constants as c
from . import fast_reads
from .errors import response_for_exception


class ScimStackMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(c.SCIM_PATH_PREFIX):
            return self.get_response(request)
        request.get_host()  # DisallowedHost -> 400, as CommonMiddleware answers it for any path
        planned = fast_reads.plan(request)
        response = fast_reads.serve(request, planned) if planned is not None else self.view(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        if not response.has_header("X-Frame-Options"):
            response.headers["X-Frame-Options"] = getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()
        return response

    @staticmethod
    def view(request: HttpRequest) -> HttpResponse:
        """The view of the route, as Django's handler calls it; an exception is
        answered as scim.api.middleware's process_exception answers it."""
        match = resolve(request.path_info)
        request.resolver_match = match
        try:
            return match.func(request, *match.args, **match.kwargs)
        except Exception as exc:
            return response_for_exception(request, exc)
