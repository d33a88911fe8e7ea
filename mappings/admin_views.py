"""Group Mapping section of the SCIM tab, and the member access ("why") page.

The SCIM tab itself is scim.admin_views, which knows nothing of mappings: it
asks for extra sections through scim.signals.scim_tab_sections, and
mappings.receivers answers with SECTION_TEMPLATE rendered with
`scim_tab_context`. The forms of that section post here and come back to the tab."""
from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from organizations.directory import org_member
from organizations.settings_pages.members import back_to_members
from organizations.settings_pages.shell import org_settings_context
from organizations.permissions import get_managed_org_or_404
from organizations.models import Organization
from organizations.paging import Page, paginate
from organizations.pickers import picker_response
from organizations.services import ServiceError
from scim.models import ScimGroup

from . import services
from .forms import GroupMappingFilterForm, GroupMappingForm
from .models import GroupMapping, GroupMappingStackRole
from .preview import REMOVED, Proposal, current_fingerprint, preview_mapping
from .report import access_report

MAPPINGS_PAGE_PARAM = "mappings_page"

SECTION_ANCHOR = "#group-mapping"
SECTION_TEMPLATE = "admin/mappings/_group_mapping_section.html"


def _tab_url(org: Organization) -> str:
    return reverse("admin:org-settings-scim", args=[org.uid]) + SECTION_ANCHOR


def _mappings(org: Organization, page_number: object = 1) -> Page:
    """One page of the org's mappings, with each one's member count (counted for
    that page only)."""
    page = paginate(
        GroupMapping.objects.filter(organization=org)
        .select_related("group", "all_stacks_role")
        .prefetch_related(
            Prefetch("stack_roles", queryset=GroupMappingStackRole.objects.select_related("stack", "role"))
        )
        .order_by("group__display_name", "pk"),
        page_number,
    )
    counts = services.member_counts(org, mappings=page.rows)
    for mapping in page.rows:
        mapping.member_count = counts.get(mapping.pk, 0)
        mapping.stack_role_list = sorted(mapping.stack_roles.all(), key=lambda sr: (sr.stack.name.lower(), sr.pk))
    return page


def _section_context(
    org: Organization, form: GroupMappingForm, editing: GroupMapping | None = None, page_number: object = 1
) -> dict:
    page = _mappings(org, page_number)
    page.params = {}
    return {
        "mapping_form": form,
        "mapping_editing": editing,
        "group_mappings": page.rows,
        "mappings_page": page,
        "mappings_prev_query": f"?{MAPPINGS_PAGE_PARAM}={page.number - 1}" if page.has_previous else "",
        "mappings_next_query": f"?{MAPPINGS_PAGE_PARAM}={page.number + 1}" if page.has_next else "",
        "recompute_jobs": list(services.active_jobs(org)[:5]),
        "failed_job": services.last_failed_job(org),
    }


def scim_tab_context(request: HttpRequest, org: Organization) -> dict:
    """Extra context the SCIM tab passes to admin/mappings/_group_mapping_section.html.
    `?edit_mapping=<id>` fills the form with that mapping (of this org only).
    While SCIM is disabled the mappings are listed read-only: no form, no Edit
    or Remove (mapping_read_only)."""
    if not org.scim_enabled:
        page = _mappings(org, request.GET.get(MAPPINGS_PAGE_PARAM))
        if not page.rows and page.number == 1:
            return {}
        return {**_section_context(org, None, page_number=request.GET.get(MAPPINGS_PAGE_PARAM)), "mapping_read_only": True}
    editing = None
    query = GroupMappingFilterForm(request.GET)
    if query.is_valid() and query.cleaned_data["edit_mapping"]:
        editing = (
            GroupMapping.objects.filter(organization=org, pk=query.cleaned_data["edit_mapping"])
            .prefetch_related("stack_roles")
            .first()
        )
    return _section_context(
        org, GroupMappingForm(org, mapping=editing), editing, request.GET.get(MAPPINGS_PAGE_PARAM)
    )


def _proposal(form: GroupMappingForm) -> Proposal:
    role = form.cleaned_data["all_stacks_role"]
    return Proposal(
        form.cleaned_data["org_role"],
        frozenset((stack.pk, r.pk) for stack, r in form.stack_roles().items() if r is not None),
        role.pk if role is not None else None,
    )


def _render_preview(request, site, org, group, preview, *, form_fields, action_url, changed: bool, confirmed=False):
    context = org_settings_context(
        request, site, org, "scim", preview=preview, group=group,
        posted_fields=[*form_fields, ("fingerprint", preview.fingerprint)], action_url=action_url, changed_since=changed, cancel_url=_tab_url(org),
        already_confirmed=confirmed,
        title=f"{'Remove' if preview.removal else 'Update'} the mapping of {group.display_name}: preview",
    )
    return TemplateResponse(request, "admin/mappings/mapping_preview.html", context)


def _posted_fields(form: GroupMappingForm) -> list[tuple[str, str]]:
    """The form's fields as posted, to post again from the Confirm button."""
    return [(name, form.data.get(name, "")) for name in form.fields if form.data.get(name, "") != ""]


# Post/Redirect/Get: a posted mapping change is kept in the session under a key,
# and the preview is a GET of that key, so Back and Reload never re-post a form.
# A session keeps the last few proposals only.
PROPOSALS_SESSION_KEY = "mapping_proposals"
PROPOSAL_PARAM = "proposal"
PROPOSALS_KEPT = 10


def _store_proposal(request: HttpRequest, org: Organization, fields: list[tuple[str, str]]) -> str:
    stored = dict(request.session.get(PROPOSALS_SESSION_KEY, {}))
    key = secrets.token_urlsafe(9)
    stored[key] = {"org": org.uid, "fields": [[n, v] for n, v in fields if n not in ("fingerprint", PROPOSAL_PARAM)],
                   "confirmed": False}
    for old in list(stored)[:-PROPOSALS_KEPT]:
        del stored[old]
    request.session[PROPOSALS_SESSION_KEY] = stored
    return key


def _stored_proposal(request: HttpRequest, org: Organization, key: str) -> dict | None:
    entry = request.session.get(PROPOSALS_SESSION_KEY, {}).get(key)
    return entry if entry and entry.get("org") == org.uid else None


def _mark_confirmed(request: HttpRequest, key: str) -> None:
    stored = dict(request.session.get(PROPOSALS_SESSION_KEY, {}))
    if key in stored:
        stored[key] = {**stored[key], "confirmed": True}
        request.session[PROPOSALS_SESSION_KEY] = stored


def _preview_url(org: Organization, key: str, *, changed: bool = False) -> str:
    query = urlencode({PROPOSAL_PARAM: key, **({"changed": "1"} if changed else {})})
    return f"{reverse('admin:mapping-preview', args=[org.uid])}?{query}"


def mapping_save_view(site, *, methods=("POST",)):
    @require_http_methods(list(methods))
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        """Update: a POST without the preview's fingerprint keeps the proposed
        mapping in the session and redirects to its preview (a GET: Back and
        Reload re-post nothing); a POST carrying the fingerprint applies it,
        unless the group or mapping changed since, in which case it redirects to
        the preview again, recomputed. GET with the form's fields as the query
        also shows the preview."""
        org = get_managed_org_or_404(request, org_uid)
        if not org.scim_enabled:
            messages.error(request, "Enable SCIM before mapping groups.")
            return redirect(_tab_url(org))
        key, confirmed, changed = "", False, False
        if request.method == "POST":
            data = request.POST
        elif PROPOSAL_PARAM in request.GET:
            key = request.GET[PROPOSAL_PARAM]
            entry = _stored_proposal(request, org, key)
            if entry is None:
                messages.info(request, "That preview is no longer available. Choose the mapping again and press Update.")
                return redirect(_tab_url(org))
            data, confirmed, changed = QueryDict(mutable=True), entry["confirmed"], request.GET.get("changed") == "1"
            for name, value in entry["fields"]:
                data.appendlist(name, value)
        else:
            data = request.GET
        form = GroupMappingForm(org, data)
        if form.is_valid() and (confirmed or not form.refuse_if_stale()):  # a confirmed one is shown as saved
            group = form.cleaned_data["group"]
            proposal = _proposal(form)
            if request.method != "POST":
                fields = [*_posted_fields(form), *([(PROPOSAL_PARAM, key)] if key else [])]
                return _render_preview(
                    request, site, org, group, preview_mapping(org, group, proposal),
                    form_fields=fields, action_url=reverse("admin:mapping-save", args=[org.uid]),
                    changed=changed, confirmed=confirmed,
                )
            submitted = request.POST.get("fingerprint", "")
            if not submitted or submitted != current_fingerprint(org, group, proposal):
                key = _store_proposal(request, org, _posted_fields(form))
                return redirect(_preview_url(org, key, changed=bool(submitted)))
            try:
                mapping = services.save_mapping(
                    org,
                    group,
                    org_role=form.cleaned_data["org_role"],
                    stack_roles=form.stack_roles(),
                    all_stacks_role=form.cleaned_data["all_stacks_role"],
                    actor=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                _mark_confirmed(request, request.POST.get(PROPOSAL_PARAM, ""))
                job = services.active_jobs(org).first()
                suffix = " Access is being updated in the background." if job else ""
                messages.success(request, f"Mapping of {mapping.group.display_name} saved.{suffix}")
                return redirect(_tab_url(org))
        context = org_settings_context(request, site, org, "scim", **_section_context(org, form))
        return TemplateResponse(request, "admin/mappings/group_mapping_page.html", context, status=400)

    return view


def group_picker_view(site):
    @require_GET
    def view(request: HttpRequest, org_uid: str) -> HttpResponse:
        """SCIM groups of this org whose name contains `term`, for the mapping form."""
        org = get_managed_org_or_404(request, org_uid)

        def search(term: str, offset: int, limit: int):
            groups = ScimGroup.objects.filter(organization=org)
            term = term.strip().lower()
            if term:
                groups = groups.alias(_name=Lower("display_name")).filter(_name__contains=term)
            return groups.order_by(Lower("display_name"), "pk").only("pk", "display_name")[offset : offset + limit]

        return picker_response(request, search, lambda g: g.display_name)

    return view


def mapping_delete_view(site):
    @require_http_methods(["GET", "HEAD", "POST"])
    def view(request: HttpRequest, org_uid: str, mapping_id: int) -> HttpResponse:
        """Remove: GET shows what removing the mapping will change; POST with the
        preview's fingerprint removes it (a changed group shows the preview again)."""
        org = get_managed_org_or_404(request, org_uid)
        mapping = get_object_or_404(
            GroupMapping.objects.select_related("group"), organization=org, pk=mapping_id
        )
        group = mapping.group
        submitted = request.POST.get("fingerprint", "") if request.method == "POST" else ""
        url = reverse("admin:mapping-delete", args=[org.uid, mapping.pk])
        if request.method == "POST" and submitted != current_fingerprint(org, group, REMOVED):
            # Post/Redirect/Get: a stale (or missing) fingerprint shows the preview
            # again, recomputed, on a GET.
            return redirect(f"{url}?changed=1" if submitted else url)
        if request.method == "POST":
            try:
                services.delete_mapping(mapping, actor=request.user)
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Mapping of {group.display_name} removed; its members lose what it granted.")
            return redirect(_tab_url(org))
        return _render_preview(
            request, site, org, group, preview_mapping(org, group, REMOVED), form_fields=[],
            action_url=url, changed=request.GET.get("changed") == "1",
        )

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
        membership = org_member(org, membership_id)
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
            back_url=back_to_members(request, org),
        )
        return TemplateResponse(request, "admin/mappings/member_access.html", context)

    return view


def get_urls(site) -> list:
    return [
        path("mappings/save/", site.admin_view(mapping_save_view(site)), name="mapping-save"),
        path(
            "mappings/preview/",
            site.admin_view(mapping_save_view(site, methods=("GET", "HEAD", "POST"))),
            name="mapping-preview",
        ),
        path("mappings/groups/picker/", site.admin_view(group_picker_view(site)), name="scim-group-picker"),
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
