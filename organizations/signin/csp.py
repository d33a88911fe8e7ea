"""Content-Security-Policy of the sign-in pages whose form may lead to an
identity provider (the policy itself: CONTENT_SECURITY_POLICY in
config/settings.py; docs/ARCHITECTURE.md, "Sessions and headers")."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def identity_provider_sources() -> list[str]:
    """form-action sources of a page whose form may end at an org's identity
    provider: 'self' and any https: site; plain http: too when Orgdesk itself
    runs on http (development, the browser tests' test IdP)."""
    sources = ["'self'", "https:"]
    if settings.PUBLIC_BASE_URL.startswith("http://"):
        sources.append("http:")
    return sources


def form_may_reach_identity_provider(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For the views of sign-in pages whose form's answer may redirect to an
    org's IdP (SSO start, the sign-in page, accepting an invitation to an org in
    SSO Strict mode). Browsers check form-action on every redirect that follows
    a form submission, and which IdP is unknown until the form is sent; listing
    every org's IdP would tell anyone which tenants use which IdP. So on those
    pages form-action is 'self' plus https: instead of 'self' alone."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        replace = dict(getattr(response, "_csp_replace", None) or {})
        replace["form-action"] = identity_provider_sources()
        response._csp_replace = replace
        return response

    return wrapped
