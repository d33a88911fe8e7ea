"""Organization Settings pages: the General, Members and Stacks tabs.

Shared helpers for every settings tab (the SCIM tab lives in scim.admin_views)."""
from __future__ import annotations

from django.http import Http404, HttpRequest
from django.urls import path

from .models import Organization
from .services import can_manage

SETTINGS_TABS = [
    ("general", "General", "admin:org-settings"),
    ("members", "Members", "admin:org-settings-members"),
    ("stacks", "Stacks", "admin:org-settings-stacks"),
    ("scim", "SCIM", "admin:org-settings-scim"),
]


def get_managed_org_or_404(request: HttpRequest, org_uid: str) -> Organization:
    """The org, if this user may manage it. Anything else is a 404, so another
    org's existence never leaks."""
    org = Organization.objects.filter(uid=org_uid).first()
    if org is None or not can_manage(request.user, org):
        raise Http404("No such organization.")
    return org


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


def get_urls(site):
    return []
