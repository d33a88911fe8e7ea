"""Group Mapping section of the SCIM tab, and the member access ("why") page.

The SCIM tab itself is scim.admin_views, which knows nothing of mappings: it
asks for extra sections through scim.signals.scim_tab_sections, and
mappings.receivers answers with SECTION_TEMPLATE rendered with
`scim_tab_context`. The forms of that section post here and come back to the tab."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from organizations.admin_views import org_settings_context
from organizations.permissions import get_managed_org_or_404
from organizations.models import Membership, Organization
from organizations.services import ServiceError

from . import services
from .forms import GroupMappingFilterForm, GroupMappingForm
from .models import GroupMapping, GroupMappingStackRole
from .report import access_report

SECTION_ANCHOR = "#group-mapping"
SECTION_TEMPLATE = "admin/mappings/_group_mapping_section.html"


def _tab_url(org: Organization) -> str:
    return reverse("admin:org-settings-scim", args=[org.uid]) + SECTION_ANCHOR


def _mappings(org: Organization) -> list[GroupMapping]:
    counts = services.member_counts(org)
    mappings = list(
        GroupMapping.objects.filter(organization=org)
        .select_related("group", "all_stacks_role")
        .prefetch_related(
            Prefetch("stack_roles", queryset=GroupMappingStackRole.objects.select_related("stack", "role"))
        )
    )
    for mapping in mappings:
        mapping.member_count = counts.get(mapping.pk, 0)
        mapping.stack_role_list = sorted(mapping.stack_roles.all(), key=lambda sr: (sr.stack.name.lower(), sr.pk))
    return mappings


def _section_context(org: Organization, form: GroupMappingForm, editing: GroupMapping | None = None) -> dict:
    return {
        "mapping_form": form,
        "mapping_editing": editing,
        "group_mappings": _mappings(org),
        "recompute_jobs": list(services.active_jobs(org)[:5]),
        "failed_job": services.last_failed_job(org),
    }


def scim_tab_context(request: HttpRequest, org: Organization) -> dict:
    """Extra context the SCIM tab passes to admin/mappings/_group_mapping_section.html.
    `?edit_mapping=<id>` fills the form with that mapping (of this org only)."""
    editing = None
    query = GroupMappingFilterForm(request.GET)
    if query.is_valid() and query.cleaned_data["edit_mapping"]:
        editing = (
            GroupMapping.objects.filter(organization=org, pk=query.cleaned_data["edit_mapping"])
            .prefetch_related("stack_roles")
            .first()
        )
    return _section_context(org, GroupMappingForm(org, mapping=editing), editing)


def mapping_save_view(site):
    @require_POST
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        if not org.scim_enabled:
            messages.error(request, "Enable SCIM before mapping groups.")
            return redirect(_tab_url(org))
        form = GroupMappingForm(org, request.POST)
        if form.is_valid():
            try:
                mapping = services.save_mapping(
                    org,
                    form.cleaned_data["group"],
                    org_role=form.cleaned_data["org_role"],
                    stack_roles=form.stack_roles(),
                    all_stacks_role=form.cleaned_data["all_stacks_role"],
                    actor=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                job = services.active_jobs(org).first()
                suffix = " Access is being updated in the background." if job else ""
                messages.success(request, f"Mapping of {mapping.group.display_name} saved.{suffix}")
                return redirect(_tab_url(org))
        context = org_settings_context(request, site, org, "scim", **_section_context(org, form))
        return TemplateResponse(request, "admin/mappings/group_mapping_page.html", context, status=400)

    return view


def mapping_delete_view(site):
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, org_uid: str, mapping_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        mapping = get_object_or_404(
            GroupMapping.objects.select_related("group"), organization=org, pk=mapping_id
        )
        if request.method == "POST":
            name = mapping.group.display_name
            try:
                services.delete_mapping(mapping, actor=request.user)
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Mapping of {name} removed; its members lose what it granted.")
            return redirect(_tab_url(org))
        context = org_settings_context(
            request,
            site,
            org,
            "scim",
            mapping=mapping,
            member_count=services.member_counts(org, mapping=mapping).get(mapping.pk, 0),
            cancel_url=_tab_url(org),
        )
        return TemplateResponse(request, "admin/mappings/mapping_confirm_delete.html", context)

    return view


def jobs_status_view(site):
    @require_GET
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        """Progress of the org's running recomputes, polled by the SCIM tab."""
        org = get_managed_org_or_404(request, org_uid)
        jobs = [
            {"id": j.pk, "reason": j.reason, "status": j.status, "done": j.done, "total": j.total}
            for j in services.active_jobs(org)[:5]
        ]
        return JsonResponse({"jobs": jobs})

    return view


def member_access_view(site):
    @require_GET
    def view(request: HttpRequest, org_uid: str, membership_id: int) -> HttpResponse:
        org = get_managed_org_or_404(request, org_uid)
        membership = Membership.objects.filter(organization=org, pk=membership_id).select_related("user")
        rows = access_report(org, membership)
        if not rows:
            raise Http404("No such member.")
        row = rows[0]
        context = org_settings_context(
            request,
            site,
            org,
            "members",
            member=row,
            title=f"Access of {row['email']}",
        )
        return TemplateResponse(request, "admin/mappings/member_access.html", context)

    return view


def get_urls(site) -> list:
    return [
        path("mappings/save/", site.admin_view(mapping_save_view(site)), name="mapping-save"),
        path(
            "mappings/<int:mapping_id>/delete/",
            site.admin_view(mapping_delete_view(site)),
            name="mapping-delete",
        ),
        path("mappings/jobs/", site.admin_view(jobs_status_view(site)), name="mapping-jobs"),
        path(
            "members/<int:membership_id>/access/",
            site.admin_view(member_access_view(site)),
            name="member-access",
        ),
    ]
