"""Organization Settings > Audit log: the org's trail as sentences, newest
first, a page at a time (organizations.audit_log); Owners and Admins only."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from organizations.audit_log import AuditFilterForm, audit_page
from organizations.permissions import get_managed_org_or_404

from .shell import org_settings_context


def audit_log_view(site):
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        filter_form = AuditFilterForm(request.GET or None)
        kind = filter_form.kind_value()
        page, entries = audit_page(org, kind, request.GET.get("page"))
        context = org_settings_context(
            request, site, org, "audit", page=page, entries=entries, filter_form=filter_form, filtered=bool(kind)
        )
        return TemplateResponse(request, "admin/orgdesk/org_settings_audit.html", context)

    return view
