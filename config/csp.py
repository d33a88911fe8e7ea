"""The Content-Security-Policy header (django-csp), skipped outright where it
means nothing.

django-csp's own middleware builds the policy string on every response and only
then looks at EXCLUDE_URL_PREFIXES. The SCIM API, the probes and /metrics answer
JSON or plain text that no browser renders, and the SCIM API is the hot path:
for those prefixes this subclass returns before any of that work. The policy
itself is CONTENT_SECURITY_POLICY in config/settings.py (docs/ARCHITECTURE.md,
"Sessions and headers")."""
from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class OrgdeskCSPMiddleware(CSPMiddleware):
    """CSPMiddleware that leaves excluded prefixes alone before building anything."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        prefixes = (getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        self.excluded: tuple[str, ...] = tuple(prefixes)

    def process_request(self, request: HttpRequest) -> None:
        if self.excluded and request.path_info.startswith(self.excluded):
            return None
        return super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if self.excluded and request.path_info.startswith(self.excluded):
            return response
        return super().process_response(request, response)

