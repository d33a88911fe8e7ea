"""Discovery endpoints (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes,
/Schemas. The documents themselves are built in scim.api.discovery."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django_scim import views as scim_views

from ..adapters import ScimGroupAdapter, ScimUserAdapter, resource_url
from ..discovery import ServiceProviderConfig, schemas
from ..errors import NotFound
from ..listing import list_document
from .base import ScimApiView, note_activity, scim_json

class ServiceProviderConfigView(ScimApiView, scim_views.ServiceProviderConfigView):
    def get(self, request: HttpRequest, org_uid: str) -> HttpResponse:
        note_activity(request, "Read configuration")
        config = ServiceProviderConfig(request, location=resource_url(request, "service-provider-config"))
        return scim_json(config.to_dict())


def _discovery_list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return list_document(resources, len(resources), 1)


class ResourceTypesView(ScimApiView, scim_views.ResourceTypesView):
    def get(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        note_activity(request, "Read configuration")
        types = {a.resource_type: a.resource_type_dict(request) for a in (ScimUserAdapter, ScimGroupAdapter)}
        if uuid is None:
            return scim_json(_discovery_list([types[k] for k in sorted(types)]))
        if uuid not in types:
            raise NotFound(f"Resource type {uuid!r} not found")
        return scim_json(types[uuid])


class SchemasView(ScimApiView, scim_views.SchemasView):
    def get(self, request: HttpRequest, org_uid: str, uuid: str | None = None) -> HttpResponse:
        note_activity(request, "Read configuration")
        docs = schemas(lambda schema_id: resource_url(request, "schema", uuid=schema_id))
        if uuid is None:
            return scim_json(_discovery_list(docs))
        for doc in docs:
            if doc["id"] == uuid:
                return scim_json(doc)
        raise NotFound(f"Schema {uuid!r} not found")
