"""The base of every SCIM endpoint: django-scim2's views (its method routing,
adapters, error types) with what it lacks for a multi-tenant service: every query
scoped to the org of the token, pages cut in SQL with a constant number of
queries, `attributes` / `excludedAttributes`, atomic writes, and SCIM JSON for
every error. /Users and /Groups subclass ResourceView (scim.api.views.users,
scim.api.views.groups); discovery lives in scim.api.views.discovery."""
from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from django_scim import views as scim_views
from django_scim.settings import scim_settings

from organizations.transactions import all_or_nothing
from scim.provisioning import parse_id

from .. import constants as c
from .. import hostile, lookups, totals, versions
from ..adapters import resource_location
from ..errors import (
    BadRequest,
    InvalidFilter,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_response,
)
from ..filters import ScimFilterError, apply_sort_order
from ..listing import ListParams, list_document, parse_list_params
from ..patch import patch_operations

BODY_METHODS = ("POST", "PUT", "PATCH")


def scim_json(doc: Any, status: int = 200, location: str | None = None, etag: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(doc), content_type=c.SCIM_CONTENT_TYPE, status=status)
    if location:
        response["Location"] = location
    if etag:
        response["ETag"] = etag
    return response


def note_activity(request: HttpRequest, operation: str, target: str = "") -> None:
    """What the Provisioning activity list shows for this call (see scim.activity)."""
    request.scim_operation = operation
    if target:
        request.scim_target = str(target)[:255]


class ScimApiView(scim_views.SCIMView):
    """Base of every SCIM endpoint: token auth (django-scim2's AUTH_CHECK_MIDDLEWARE
    decorator, which is ours) and body limits. Errors are raised, never caught
    here: scim.api.middleware answers them."""

    @method_decorator(csrf_exempt)
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._authenticated_dispatch(request, *args, **kwargs)

    @method_decorator(scim_settings.AUTH_CHECK_MIDDLEWARE)
    def _authenticated_dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Whatever this raises, scim.api.middleware turns into the SCIM response.
        hostile.check_query(request.GET)
        self._read_body(request)
        return View.dispatch(self, request, *args, **kwargs)

    def _read_body(self, request: HttpRequest) -> None:
        """413 from Content-Length before reading anything; 415 for other types.
        Reads the stream ourselves so Django's smaller DATA_UPLOAD_MAX_MEMORY_SIZE
        does not turn a legal body into a 400."""
        limit = settings.SCIM_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(c.DETAIL_TOO_LARGE.format(limit=limit))
        if request.method not in BODY_METHODS:
            return
        content_type = (request.META.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
        data = request.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(c.DETAIL_TOO_LARGE.format(limit=limit))
        request._body = data
        if data.strip() and content_type not in c.ACCEPTED_CONTENT_TYPES:
            raise UnsupportedMediaType(c.DETAIL_UNSUPPORTED_MEDIA)

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = error_response(405, c.DETAIL_METHOD_NOT_ALLOWED)
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return response

    def load_body(self, body: bytes) -> dict[str, Any]:
        # Refuses what would fail further down: bad UTF-8/JSON, NaN, nesting past
        # 32 levels, lone surrogates and NUL (neither can be stored in PostgreSQL).
        return hostile.load_document(body)


class ResourceView(ScimApiView):
    """Shared behaviour of /Users and /Groups."""

    adapter: type
    noun: str  # "user" / "group"
    not_found: str
    name_attribute: str  # what the activity list names a written resource by
    filter_q: Callable[[str], Q]  # SCIM filter -> Q (raises ScimFilterError)
    sort_key: Callable[[str | None], list]  # sortBy -> order_by keys
    lookup_url_kwarg = "uuid"
    # POST parses, then saves through the services, in one transaction: the
    # services join it without savepoints, so a refusal rolls back the whole call.
    create_in_transaction = True

    # --- to be provided by subclasses ---
    def base_queryset(self, request: HttpRequest) -> QuerySet:
        raise NotImplementedError

    def with_related(self, qs: QuerySet, params: ListParams | None) -> QuerySet:
        raise NotImplementedError

    def render(self, request: HttpRequest, obj, params: ListParams | None) -> dict[str, Any]:
        raise NotImplementedError

    def locked_related(self, qs: QuerySet) -> QuerySet:
        """What a write reads along with the row it locks."""
        return qs

    # --- reading ---
    def get_object(self, request: HttpRequest, uuid: str, params: ListParams | None = None, *, lock: bool = False):
        pk = parse_id(uuid)
        if pk is None:
            raise NotFound(self.not_found)
        qs = self.scoped(request, lookups.POINT).filter(pk=pk)
        qs = self.locked_related(qs.select_for_update(of=("self",))) if lock else self.with_related(qs, params)
        obj = qs.first()
        if obj is None:
            raise NotFound(self.not_found)
        obj.organization = request.scim_org  # known: saves the services a query for it
        return obj

    def scoped(self, request: HttpRequest, found_by: lookups.Kind | None) -> QuerySet:
        """The org's rows; for a lookup by key, compared so that the planner never
        takes a new org for an empty one (scim.api.lookups)."""
        if found_by is None:
            return self.base_queryset(request)
        return lookups.org_scope(self.base_queryset(request).model, request.scim_org.pk)

    def filtered(self, request: HttpRequest, params: ListParams) -> QuerySet:
        qs = self.scoped(request, lookups.kind(self.noun, params.filter))
        if params.filter:
            try:
                qs = qs.filter(self.filter_q(params.filter))
            except ScimFilterError as exc:
                raise InvalidFilter(str(exc)) from exc
        return qs

    def sorted_keys(self, params: ListParams) -> list:
        try:
            keys = self.sort_key(params.sort_by)
        except ScimFilterError as exc:
            raise BadRequest(f"Invalid sortBy: {exc}") from exc
        return apply_sort_order(keys, True) if params.descending else keys

    def page(self, request: HttpRequest, params: ListParams, offset: int, limit: int) -> list:
        if limit <= 0:
            return []
        keys = self.sorted_keys(params)
        qs = self.with_related(self.filtered(request, params), params)
        objs = lookups.window(qs, keys, offset, limit, lookups.kind(self.noun, params.filter))
        return [self.render(request, obj, params) for obj in objs]

    def get(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        params = parse_list_params(request.GET)
        if uuid is not None:
            note_activity(request, f"Get {self.noun}", f"id {uuid}")
            doc, version = self.read_one(request, uuid, params)
            location = self.location_of(request, parse_id(uuid))
            if versions.not_modified(request, version):  # RFC 7644 §3.14: unchanged since the client's copy
                response = HttpResponse(status=304)
                response["ETag"], response["Location"] = version, location
                return response
            return scim_json(doc, location=location, etag=version)
        return self.list(request, params)

    def read_one(
        self, request: HttpRequest, uuid: str, params: ListParams | None, *, note: bool = True
    ) -> tuple[dict[str, Any], str]:
        """(the resource's document, its version); `note`: name it in the activity as a read."""
        obj = self.get_object(request, uuid, params)
        if note:
            note_activity(request, f"Get {self.noun}", self.target_of(obj))
        return self.render(request, obj, params), self.version_of(obj, params)

    def version_of(self, obj, params: ListParams | None) -> str:
        """The version (ETag) of a resource read or just written (scim.api.versions)."""
        raise NotImplementedError

    def check_version(self, request: HttpRequest, obj) -> None:
        """If-Match on a write, with the row locked and nothing written yet: 412
        when stale. Compared on the row's own updated_at (scim.api.versions)."""
        versions.check_if_match(request, versions.group(obj.updated_at))

    def list(self, request: HttpRequest, params: ListParams) -> HttpResponse:
        note_activity(request, f"Look up {self.noun}s" if params.filter else f"List {self.noun}s", params.filter or "")
        offset = params.start_index - 1
        resources = self.page(request, params, offset, params.count)
        if 0 < len(resources) < params.count or (not resources and params.count > 0 and offset == 0):
            # A page that is not full is the last one: its end is the total, and
            # the COUNT(*) is saved (Okta's `userName eq` lookups, small orgs).
            total = offset + len(resources)
        elif params.filter:
            total = self.filtered(request, params).count()
        else:
            total = totals.unfiltered_total(self.noun, request.scim_org.pk, self.base_queryset(request).count)
        return scim_json(list_document(resources, total, params.start_index))

    def target_of(self, obj) -> str:
        raise NotImplementedError

    # --- writing ---
    def post(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        if uuid is not None:
            return self.http_method_not_allowed(request)
        body = self.load_body(request.body)
        params = parse_list_params(request.GET)  # a bad query string is refused before anything is written
        note_activity(request, f"Create {self.noun}", self.target_of_body(body))
        scim_obj = self.adapter(self.model_cls(), request=request)
        with all_or_nothing() if self.create_in_transaction else nullcontext():
            scim_obj.from_dict(body)
            scim_obj.save()
        # Rendered from the object just written (its e-mails and, for a new
        # resource, its empty groups are attached by the service): no re-read.
        doc = self.render(request, scim_obj.obj, params)
        return scim_json(
            doc, status=201, location=self.location_of(request, scim_obj.obj.pk), etag=self.version_of(scim_obj.obj, params)
        )

    def put(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            return self.http_method_not_allowed(request)
        body = self.load_body(request.body)
        params = parse_list_params(request.GET)
        note_activity(request, f"Update {self.noun}", self.target_of_body(body) or f"id {uuid}")
        with all_or_nothing():
            obj = self.get_object(request, uuid, lock=True)
            self.check_version(request, obj)
            scim_obj = self.adapter(obj, request=request)
            scim_obj.from_dict(body)
            self.describe_write(request, scim_obj)
            scim_obj.save()
        return self.after_write(request, scim_obj, params)

    def patch(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            return self.http_method_not_allowed(request)
        body = self.load_body(request.body)
        operations = patch_operations(body)  # shape-checked: nothing applies if one is malformed
        params = parse_list_params(request.GET)
        note_activity(request, f"Update {self.noun}", f"id {uuid}")
        with all_or_nothing():
            obj = self.get_object(request, uuid, lock=True)
            note_activity(request, f"Update {self.noun}", self.target_of(obj))
            self.check_version(request, obj)
            scim_obj = self.adapter(obj, request=request)
            scim_obj.handle_operations(operations)
            self.describe_write(request, scim_obj)
            scim_obj.save()
        return self.after_write(request, scim_obj, params, patch=True)

    def delete(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            return self.http_method_not_allowed(request)
        note_activity(request, f"Delete {self.noun}", f"id {uuid}")
        with all_or_nothing():
            obj = self.get_object(request, uuid, lock=True)
            note_activity(request, f"Delete {self.noun}", self.target_of(obj))
            self.check_version(request, obj)
            self.adapter(obj, request=request).delete()
        return HttpResponse(status=204, content_type=c.SCIM_CONTENT_TYPE)

    def describe_write(self, request: HttpRequest, scim_obj) -> None:
        """Refine the activity's operation name once the change is known."""

    def after_write(self, request: HttpRequest, scim_obj, params: ListParams, *, patch: bool = False) -> HttpResponse:
        pk = scim_obj.obj.pk
        doc, version = self.read_one(request, pk, params, note=False)
        return scim_json(doc, location=self.location_of(request, pk), etag=version)

    def location_of(self, request: HttpRequest, pk: int) -> str:
        """The resource's URL (`meta.location` may be left out by `attributes`)."""
        return resource_location(request, self.adapter.url_name.removeprefix("scim_api:"), pk)

    def target_of_body(self, body: dict) -> str:
        value = body.get(self.name_attribute)
        return value if isinstance(value, str) else ""


class SearchView(ScimApiView):
    """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)."""

    http_method_names = ["post"]
    resource_views: tuple[type[ResourceView], ...] = ()  # exactly one

    def post(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        body = self.load_body(request.body)
        schemas_ = body.get("schemas")
        if schemas_ is not None and (not isinstance(schemas_, list) or c.SEARCH_REQUEST_SCHEMA not in schemas_):
            raise BadRequest(f'A search request must have the schema "{c.SEARCH_REQUEST_SCHEMA}"')
        params = parse_list_params(body)
        view = self.resource_views[0]()
        view.request = request
        return view.list(request, params)


class RootSearchView(ScimApiView):
    """POST /.search across resource types answers 501 (allowed by RFC 7644
    §3.4.3/§3.12). A User's id is its membership id and a Group's its group id,
    so one list mixing both could hold two resources with the same id; no IdP
    searches at the root, they use /Users/.search and /Groups/.search."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        note_activity(request, "Search")
        return error_response(501, "Search across resource types is not supported: use /Users/.search or /Groups/.search")


class NotImplementedView(ScimApiView):
    """/Bulk and /Me: advertised as unsupported, answered 501 (RFC 7644 §3.12)."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def _501(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return error_response(501, "Not implemented by this service provider")

    get = post = put = patch = delete = _501


@csrf_exempt
def route_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return error_response(404, c.DETAIL_ROUTE_NOT_FOUND)
