"""The shell every Organization Settings tab renders in: the tab bar, the
context of admin/orgdesk/org_settings_base.html, and the plumbing of a tab that
holds several forms. Each tab is a module of this package (general, members,
stacks, audit); the SCIM tab is scim.admin_views and the Single Sign-On tab
organizations.signin.saml.admin_views, which use org_settings_context too.

This module imports no tab, so every tab (and other apps' tabs) can build on it.
Views parse forms and render; every change goes through organizations.services."""
from __future__ import annotations

from typing import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from organizations.errors import ServiceError
from organizations.forms import FORM_ACTION_FIELD, ActionForm
from organizations.models import Organization
from organizations.outcomes import Outcome, finish

SETTINGS_TABS = [
    ("general", "General", "admin:org-settings"),
    ("members", "Members", "admin:org-settings-members"),
    ("stacks", "Stacks", "admin:org-settings-stacks"),
    ("scim", "SCIM", "admin:org-settings-scim"),
    ("sso", "Single Sign-On", "admin:org-settings-sso"),
    ("audit", "Audit log", "admin:org-settings-audit"),
]


def org_settings_context(request: HttpRequest, site, org: Organization, active_tab: str, **extra) -> dict:
    """Context for templates extending admin/orgdesk/org_settings_base.html."""
    return {
        **site.each_context(request),
        "org": org,
        "active_tab": active_tab,
        "settings_tabs": SETTINGS_TABS,
        "title": f"Organization Settings: {org.name}",
        **extra,
    }


# A handler gets the cleaned data and returns the success message, an Outcome
# (message, level, where to go) or a whole response (a confirmation page).
Handler = Callable[[dict], "str | Outcome | HttpResponse"]


def tab_forms(request: HttpRequest, classes: list[type[ActionForm]], **kwargs) -> dict[str, ActionForm]:
    """A tab may hold several forms; the posted one is named by the hidden `form`
    field and bound, the others stay unbound."""
    posted = request.POST.get(FORM_ACTION_FIELD) if request.method == "POST" else None
    return {cls.action: cls(request.POST if cls.action == posted else None, **kwargs.get(cls.action, {}))
            for cls in classes}


def handle_post(request: HttpRequest, forms: dict[str, ActionForm], handlers: dict[str, Handler]) -> HttpResponse | None:
    """Run the posted form's handler; a redirect on success, None to re-render
    the page with the form's errors."""
    if request.method != "POST":
        return None
    action = request.POST.get(FORM_ACTION_FIELD, "")
    form = forms.get(action)
    if form is None or action not in handlers:
        messages.error(request, "Unknown form; nothing was changed.")
        return None
    if not form.is_valid():
        return None
    try:
        result = handlers[action](form.cleaned_data)
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return None
    return finish(request, Outcome(result) if isinstance(result, str) else result, request.path)


def render_tab(request: HttpRequest, site, template: str, org: Organization, tab: str, **extra) -> TemplateResponse:
    context = org_settings_context(request, site, org, tab, form_action_field=FORM_ACTION_FIELD, **extra)
    return TemplateResponse(request, template, context)
