"""Branded error pages with a way back (config.urls handler403/404/500): the one
header, what happened in a sentence, and links home. 500 renders without a
database query (templates/500.html is plain), as Django's own does."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.template.response import TemplateResponse
from django.views.decorators.csrf import requires_csrf_token

from .views import admin_chrome


def _context(request: HttpRequest, title: str, text: str) -> dict:
    try:
        chrome = admin_chrome(request)
    except Exception:  # an error page never fails because of its header
        chrome = {}
    return {**chrome, "title": title, "text": text}


@requires_csrf_token
def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else ""
    text = message or "Your account may not open this page."
    context = _context(request, "You cannot open this page", text)
    return TemplateResponse(request, "403.html", context, status=403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    context = _context(
        request, "Page not found",
        "There is no page at this address, or it belongs to an organization you do not manage.",
    )
    return TemplateResponse(request, "404.html", context, status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    context = _context(
        request, "This form expired",
        "The page was open too long, or your session changed since it was shown. Go back, reload the page and try again.",
    )
    return TemplateResponse(request, "403.html", context, status=403)
