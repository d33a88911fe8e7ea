"""/Groups: a ScimGroup whose members are memberships of the org (scim.api.group_adapter)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django_scim import views as scim_views

from scim.models import ScimGroup, ScimGroupMember
from scim.provisioning import parse_id
from scim.rawsql import Columns, fetch, qn

from .. import constants as c
from .. import versions
from ..adapters import ScimGroupAdapter
from ..errors import NotFound
from ..filters import group_filter_q, group_sort_key
from ..listing import ListParams, shape, wants
from ..lookups import ORG_PARAM
from .base import ResourceView, SearchView, note_activity

GROUP_ROW = Columns(ScimGroup)


@lru_cache(maxsize=None)
def _lock_sql(vendor: str) -> str:
    """A write's lock of the org's group, built once: the ORM compiled it on
    every PATCH (Okta pushes a group's members 100 at a time)."""
    lock = " FOR UPDATE" if vendor == "postgresql" else ""  # SQLite locks the whole database on write
    return (
        f"SELECT {GROUP_ROW.select} FROM {qn(GROUP_ROW.table)} "
        f"WHERE {GROUP_ROW.column('organization')} = {ORG_PARAM} AND {GROUP_ROW.column('id')} = %s{lock}"
    )


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

    def get_object(self, request: HttpRequest, uuid: str, params: ListParams | None = None, *, lock: bool = False):
        if not lock:
            return super().get_object(request, uuid, params)
        pk = parse_id(uuid)
        rows = fetch(_lock_sql(connection.vendor), [request.scim_org.pk, pk]) if pk is not None else None
        if not rows:
            raise NotFound(self.not_found)
        obj = GROUP_ROW.instance(rows[0])
        obj.organization = request.scim_org  # known: saves the services a query for it
        return obj

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
