"""Shared pieces of the SCIM adapters: absolute URLs of an org's routes, service
errors translated to SCIM errors, lenient attribute reading, and what the User
and Group adapters render and parse alike (ResourceAdapter)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.urls import reverse

from organizations.models import Membership
from organizations.services import OwnershipError, ServiceError
from scim import provisioning

from . import constants as c
from .errors import BadRequest, Conflict, Forbidden, InvalidPath, NoTarget
from .patch import PatchPath, parse_path


def get_membership_model() -> type[Membership]:
    """USER_MODEL_GETTER: the SCIM User resource is the org membership."""
    return Membership


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def resource_url(request, name: str, **kwargs: Any) -> str:
    """Absolute URL of a route of this org (django-scim2 reverses without an org)."""
    return absolute(reverse(f"scim_api:{name}", kwargs={"org_uid": request.scim_org.uid, **kwargs}))


@lru_cache(maxsize=None)
def _org_path_template(name: str) -> str:
    return reverse(f"scim_api:{name}", kwargs={"org_uid": "ORG-UID"})


@lru_cache(maxsize=None)
def _resource_path_template(name: str) -> str:
    return reverse(f"scim_api:{name}", kwargs={"org_uid": "ORG-UID", "uuid": "RESOURCE-ID"})


def resource_location(request, name: str, pk) -> str:
    """resource_url(request, name, uuid=pk) without a reverse() per call (the
    Location header of every write): the route reversed once, the org's uid and
    the id put in."""
    path = _resource_path_template(name).replace("ORG-UID", request.scim_org.uid, 1)
    return absolute(path.replace("RESOURCE-ID", str(pk), 1))


def document_urls(request) -> tuple[str, str]:
    """(users URL, groups URL) of the request's org, resources being `<url>/<id>`:
    the same as resource_url(), without two reverse() calls per request."""
    uid = request.scim_org.uid
    return tuple(absolute(_org_path_template(name).replace("ORG-UID", uid)) for name in ("users", "groups"))


def translate_service_errors(func):
    """Service errors become SCIM errors (409 uniqueness, 400 invalidValue, 403)."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except provisioning.UniquenessError as exc:
            raise Conflict(str(exc)) from exc
        except OwnershipError as exc:
            raise Forbidden(str(exc)) from exc
        except (provisioning.InvalidValue, ServiceError) as exc:  # any other domain refusal: 400
            raise BadRequest(str(exc)) from exc

    return wrapper


def _ci_get(d: dict, key: str) -> Any:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    if key in d:
        return d[key]
    lowered = key.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None


class ResourceAdapter:
    """Mixed in before django-scim2's SCIMUser / SCIMGroup: org-scoped URLs, `meta`,
    the ResourceType document, and PATCH ops routed to one `_apply(path, value, op)`."""

    url_name: str
    resource_type: str
    # The ResourceType document (RFC 7643 §6)
    endpoint: str
    description: str
    schema: str
    schema_extensions: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return reverse(self.url_name, kwargs={"org_uid": self.request.scim_org.uid, "uuid": self.id})

    @property
    def location(self) -> str:
        users, groups = document_urls(self.request)  # no reverse() per resource of a page
        return f"{users if self.resource_type == 'User' else groups}/{self.id}"

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "created": self.obj.created_at.isoformat(),
            "lastModified": self.obj.updated_at.isoformat(),
            "location": self.location,
            "version": self.version,
        }

    @property
    def version(self) -> str:
        """meta.version and the ETag (scim.api.versions)."""
        raise NotImplementedError

    @classmethod
    def resource_type_dict(cls, request=None) -> dict[str, Any]:
        return {
            "schemas": [c.SchemaURI.RESOURCE_TYPE],
            "id": cls.resource_type,
            "name": cls.resource_type,
            "endpoint": cls.endpoint,
            "description": cls.description,
            "schema": cls.schema,
            "schemaExtensions": [{"schema": urn, "required": False} for urn in cls.schema_extensions],
            "meta": {"location": resource_url(request, "resource-type", uuid=cls.resource_type), "resourceType": "ResourceType"},
        }

    def validate_dict(self, d: dict) -> None:
        if not isinstance(d, dict):
            raise BadRequest("The body must be a JSON object")

    # --- PATCH: django-scim2's driver calls these; our `_apply` coerces types itself
    # ("False" from Entra is fine), so its validators are off.
    validate_op_add = validate_op_remove = validate_op_replace = None

    def split_path(self, path: str) -> PatchPath:
        return parse_path(path)

    def parse_path_and_values(self, path, value) -> list[tuple[PatchPath, Any]]:
        if not path:
            if not isinstance(value, dict):
                raise NoTarget("A PATCH operation without a path needs an object value")
            # Path-less add/replace: the value is a piece of the resource and every
            # key a path, including Entra's dotted keys ("name.givenName") and
            # extension URNs. A key naming no attribute is refused as in a POST/PUT
            # body, 400 invalidValue: RFC 7644 §3.12 keeps invalidPath for a bad
            # "path" attribute, which this operation does not have, while its value
            # "contains a set of attributes" (§3.5.2.1, §3.5.2.3) one of which is
            # not compatible with the resource: invalidValue.
            pairs = []
            for key, item in value.items():
                if key.lower() == "schemas":
                    continue  # the value's declaration, as in a body
                try:
                    parsed = self.split_path(key)
                except InvalidPath as exc:
                    raise BadRequest(str(exc.detail)) from exc
                pairs.extend(self._expanded(parsed, item))
            return self._kept(pairs, BadRequest)
        return self._kept(self._expanded(self.split_path(path), value), InvalidPath)

    @staticmethod
    def _expanded(path: PatchPath, value: Any) -> list[tuple[PatchPath, Any]]:
        """The pairs one path and its value stand for (the user adapter splits
        the enterprise extension given as one object)."""
        return [(path, value)]

    def _kept(self, pairs: list[tuple[PatchPath, Any]], error: type[Exception]) -> list[tuple[PatchPath, Any]]:
        """The pairs naming stored attributes; `error` refuses an unknown one."""
        raise NotImplementedError

    def handle_add(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_ADD)

    def handle_replace(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REPLACE)

    def handle_remove(self, path: PatchPath, value, operation) -> None:
        self._apply(path, value, c.OP_REMOVE)

    def _apply(self, path: PatchPath, value: Any, op: str) -> None:
        raise NotImplementedError
