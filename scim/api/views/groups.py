"""/Groups: a ScimGroup whose members are memberships of the org (scim.api.group_adapter)."""
from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django_scim import views as scim_views

from scim.models import ScimGroup, ScimGroupMember

from .. import constants as c
from .. import versions
from ..adapters import ScimGroupAdapter
from ..filters import group_filter_q, group_sort_key
from ..listing import ListParams, shape, wants
from .base import ResourceView, SearchView, note_activity

class GroupsView(ResourceView, scim_views.GroupsView):
    adapter = ScimGroupAdapter
    noun = "group"
    not_found = c.DETAIL_GROUP_NOT_FOUND
    name_attribute = "displayName"
    filter_q = staticmethod(group_filter_q)
    sort_key = staticmethod(group_sort_key)

    def base_queryset(self, request: HttpRequest) -> QuerySet:
        return ScimGroup.objects.filter(organization=request.scim_org)

    def with_related(self, qs: QuerySet, params: ListParams | None) -> QuerySet:
        if params is None or wants("members", params.attributes, params.excluded):
            members = ScimGroupMember.objects.only("id", "group_id", "membership_id").order_by("pk")
            qs = qs.prefetch_related(Prefetch("memberships", queryset=members, to_attr="prefetched_members"))
        return qs

    def render(self, request: HttpRequest, obj, params: ListParams | None) -> dict[str, Any]:
        include = params is None or wants("members", params.attributes, params.excluded)
        doc = self.adapter(obj, request=request).to_dict(include_members=include)
        return shape(doc, params.attributes, params.excluded) if params else doc

    def target_of(self, obj) -> str:
        return obj.display_name

    def version_of(self, obj, params: ListParams | None) -> str:
        return versions.group(obj.updated_at)

    def describe_write(self, request: HttpRequest, scim_obj) -> None:
        renamed = scim_obj.name is not None and scim_obj.name != scim_obj.obj.display_name
        if scim_obj.members_touched and not renamed:
            note_activity(request, "Update group members")
        elif renamed and not scim_obj.members_touched:
            note_activity(request, "Rename group", scim_obj.name)

    def after_write(self, request: HttpRequest, scim_obj, params: ListParams, *, patch: bool = False) -> HttpResponse:
        # Group PATCH answers 204 (what Entra prefers; Okta accepts 200 or 204),
        # unless the client asked for attributes, then 200 with the group. The
        # ETag of a 204 is the version just written (the services keep the
        # group's updated_at current): nothing is read back.
        if patch and not (request.GET.get("attributes") or request.GET.get("excludedAttributes")):
            response = HttpResponse(status=204, content_type=c.SCIM_CONTENT_TYPE)
            response["ETag"] = versions.group(scim_obj.obj.updated_at)
            return response
        return super().after_write(request, scim_obj, params, patch=patch)


class GroupsSearchView(SearchView):
    resource_views = (GroupsView,)
