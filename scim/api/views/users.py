"""/Users: a SCIM User is an org Membership (scim.api.user_adapter parses and
writes; scim.api.user_documents reads and renders)."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django_scim import views as scim_views

from organizations.models import Membership
from scim.provisioning import parse_id

from .. import constants as c
from .. import user_documents, user_rows
from ..adapters import ScimUserAdapter
from ..errors import NotFound
from ..filters import user_filter_q, user_sort_key
from ..listing import ListParams
from .base import ResourceView, SearchView, note_activity, scim_json


class UsersView(ResourceView, scim_views.UsersView):
    adapter = ScimUserAdapter
    noun = "user"
    not_found = c.DETAIL_USER_NOT_FOUND
    name_attribute = "userName"
    filter_q = staticmethod(user_filter_q)
    sort_key = staticmethod(user_sort_key)

    def base_queryset(self, request: HttpRequest) -> QuerySet:
        return Membership.objects.filter(organization=request.scim_org)

    def render(self, request: HttpRequest, obj, params: ListParams | None) -> dict[str, Any]:
        return user_documents.of_membership(request, obj, params)

    def get_object(self, request: HttpRequest, uuid: str, params: ListParams | None = None, *, lock: bool = False):
        if not lock:
            return super().get_object(request, uuid, params)
        # A write: the row locked with its e-mails and groups, in plain SQL
        # (scim.api.user_rows.locked_for_write).
        pk = parse_id(uuid)
        obj = user_rows.locked_for_write(request.scim_org.pk, pk) if pk is not None else None
        if obj is None:
            raise NotFound(self.not_found)
        obj.organization = request.scim_org
        return obj

    def after_write(self, request: HttpRequest, scim_obj, params: ListParams, *, patch: bool = False):
        """Rendered from the membership just written: the service keeps its
        e-mails and the lock read its groups (a User write does not change them)."""
        obj = scim_obj.obj
        return scim_json(
            self.render(request, obj, params), location=self.location_of(request, obj.pk), etag=self.version_of(obj, params)
        )

    def page(self, request: HttpRequest, params: ListParams, offset: int, limit: int) -> list:
        if limit <= 0:
            return []
        keys = self.sorted_keys(params)
        return user_documents.page(request, params, keys, offset, limit, lambda: self.filtered(request, params))

    def read_one(
        self, request: HttpRequest, uuid: str, params: ListParams | None, *, note: bool = True
    ) -> tuple[dict[str, Any], str]:
        pk = parse_id(uuid)
        found = user_documents.one(request, pk, params) if pk is not None else None
        if found is None:
            raise NotFound(self.not_found)
        doc, user_name, version = found
        if note:
            note_activity(request, f"Get {self.noun}", user_name)
        return doc, version

    def version_of(self, obj, params: ListParams | None) -> str:
        return user_documents.version_of(obj, params)

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
