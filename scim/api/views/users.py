"""/Users: a SCIM User is an org Membership (scim.api.user_adapter)."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django_scim import views as scim_views

from organizations.models import Membership
from scim.provisioning import parse_id

from .. import constants as c
from .. import lookups, user_rows
from ..adapter_base import document_urls
from ..adapters import ScimUserAdapter
from ..errors import NotFound
from ..filters import user_filter_q, user_sort_key, username_eq
from ..listing import ListParams, shape, wants
from .base import ResourceView, SearchView, note_activity

class UsersView(ResourceView, scim_views.UsersView):
    adapter = ScimUserAdapter
    create_in_transaction = False  # provisioning.provision_user is atomic
    noun = "user"
    not_found = c.DETAIL_USER_NOT_FOUND
    name_attribute = "userName"
    filter_q = staticmethod(user_filter_q)
    sort_key = staticmethod(user_sort_key)

    def base_queryset(self, request: HttpRequest) -> QuerySet:
        return Membership.objects.filter(organization=request.scim_org)

    def render(self, request: HttpRequest, obj, params: ListParams | None) -> dict[str, Any]:
        """A user just written (POST): its e-mails and groups are attached by the service."""
        include = params is None or wants("groups", params.attributes, params.excluded)
        doc = self.adapter(obj, request=request).to_dict(include_groups=include)
        return shape(doc, params.attributes, params.excluded) if params else doc

    def locked_related(self, qs: QuerySet) -> QuerySet:
        return qs.prefetch_related("email_set")  # PATCH's document and the service's "before"

    # Reads go through scim.api.user_rows (plain SQL).
    def page(self, request: HttpRequest, params: ListParams, offset: int, limit: int) -> list:
        if limit <= 0:
            return []
        org_id = request.scim_org.pk
        groups = wants("groups", params.attributes, params.excluded)
        keys = self.sorted_keys(params)
        by_id = keys in (["pk"], ["-pk"])
        user_name = username_eq(params.filter) if params.filter else None
        if by_id and params.filter is None:
            rows = user_rows.page(org_id, limit=limit, offset=offset, descending=keys == ["-pk"], groups=groups)
        elif by_id and user_name is not None:
            rows = user_rows.by_username(org_id, user_name, limit=limit, offset=offset, groups=groups)
        else:
            qs = user_rows.from_queryset(self.filtered(request, params))
            rows = list(lookups.window(qs, keys, offset, limit, lookups.kind(self.noun, params.filter)))
        return self.render_rows(request, rows, params)

    def read_one(self, request: HttpRequest, uuid: str, params: ListParams | None, *, note: bool = True) -> dict[str, Any]:
        pk = parse_id(uuid)
        groups = params is None or wants("groups", params.attributes, params.excluded)
        row = user_rows.by_id(request.scim_org.pk, pk, groups=groups) if pk is not None else None
        if row is None:
            raise NotFound(self.not_found)
        if note:
            note_activity(request, f"Get {self.noun}", row["scim_username"])
        return self.render_rows(request, [row], params)[0]

    def render_rows(self, request: HttpRequest, rows: list[dict[str, Any]], params: ListParams | None) -> list[dict[str, Any]]:
        include = params is None or wants("groups", params.attributes, params.excluded)
        user_rows.attach(rows, groups=include)
        users_url, groups_url = document_urls(request)
        docs = [user_rows.render_user(row, users_url, groups_url) for row in rows]
        return [shape(doc, params.attributes, params.excluded) for doc in docs] if params else docs

    def target_of(self, obj) -> str:
        return obj.scim_username

    def describe_write(self, request: HttpRequest, scim_obj) -> None:
        before, after = scim_obj.obj.active, scim_obj.profile.active
        if before and not after:
            note_activity(request, "Deactivate user")
        elif after and not before:
            note_activity(request, "Reactivate user")


class UsersSearchView(SearchView):
    resource_views = (UsersView,)
