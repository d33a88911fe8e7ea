"""ServiceProviderConfig, ResourceTypes and Schemas describing exactly what this
API implements. The schemas are django-scim2's RFC 7643 documents trimmed to the
attributes we store and return (advertising phoneNumbers we would drop would make
clients and conformance checkers expect them back)."""
from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from django.conf import settings
from django_scim.models import SCIMServiceProviderConfig
from django_scim.schemas import default_schemas_getter

from . import constants as c
from . import limits

USER_ATTRIBUTES = {
    "userName": None,
    "name": ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"),
    "displayName": None,
    "active": None,
    "emails": ("value", "display", "type", "primary"),
    "groups": ("value", "$ref", "display", "type"),
}
GROUP_ATTRIBUTES = {"displayName": None, "members": ("value", "$ref", "type")}


def _trim(schema: dict[str, Any], keep: dict[str, tuple[str, ...] | None]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    attributes = []
    for attribute in schema["attributes"]:
        if attribute["name"] not in keep:
            continue
        subs = keep[attribute["name"]]
        if subs is not None and "subAttributes" in attribute:
            attribute["subAttributes"] = [s for s in attribute["subAttributes"] if s["name"] in subs]
        attributes.append(attribute)
    schema["attributes"] = attributes
    return schema


@lru_cache(maxsize=1)
def _base_schemas() -> dict[str, dict[str, Any]]:
    by_id = {s["id"]: s for s in default_schemas_getter()}
    user = _trim(by_id[c.USER_SCHEMA], USER_ATTRIBUTES)
    group = _trim(by_id[c.GROUP_SCHEMA], GROUP_ATTRIBUTES)
    for attribute in user["attributes"]:
        if attribute["name"] == "emails":
            # Every SCIM user is a global account found by e-mail: when userName is
            # not an e-mail address, an e-mail must come with the user.
            attribute["required"] = True
            attribute["description"] += " Required unless userName is an e-mail address."
            for sub in attribute["subAttributes"]:
                if sub["name"] == "value":
                    sub["required"] = True
        elif attribute["name"] == "active":
            # A membership is always either active or deactivated: it cannot be left
            # unassigned, so a PATCH `remove` of it is refused (RFC 7644 §3.5.2.2,
            # scimType mutability). Left out of a POST it is true; of a PUT, kept.
            attribute["required"] = True
            attribute["description"] += (
                " Always assigned: true when a create leaves it out, unchanged when a replace does;"
                " it cannot be removed."
            )
    for attribute in group["attributes"]:
        if attribute["name"] == "displayName":
            attribute.update(required=True, uniqueness="server")
    enterprise = copy.deepcopy(by_id[c.ENTERPRISE_USER_SCHEMA])
    _describe_limits(user, "", limits.USER_LIMITS)
    _describe_limits(group, "", limits.GROUP_LIMITS)
    _describe_limits(enterprise, f"{c.ENTERPRISE_USER_SCHEMA}:", limits.USER_LIMITS)
    return {s["id"]: s for s in (user, group, enterprise)}


def _describe_limits(schema: dict[str, Any], prefix: str, limits_of: dict[str, int]) -> None:
    """Each stored string says how long it may be (longer values are refused)."""
    for attribute in schema["attributes"]:
        attribute["description"] += limits.describe(prefix + attribute["name"], limits_of)
        for sub in attribute.get("subAttributes", ()):
            sub["description"] += limits.describe(f"{prefix}{attribute['name']}.{sub['name']}", limits_of)


def schemas(location_of) -> list[dict[str, Any]]:
    """All schemas, `meta.location` made absolute for the org by `location_of(id)`."""
    out = []
    for schema_id, schema in sorted(_base_schemas().items()):
        doc = copy.deepcopy(schema)
        doc["schemas"] = [c.SCHEMA_SCHEMA]
        doc["meta"] = {"resourceType": "Schema", "location": location_of(schema_id)}
        out.append(doc)
    return out


class ServiceProviderConfig(SCIMServiceProviderConfig):
    """django-scim2's config, corrected: filter, sort and ETags are supported,
    password changes are not, and `location` is the org's absolute URL."""

    def __init__(self, request=None, location: str = "") -> None:
        super().__init__(request)
        self._location = location

    @property
    def location(self) -> str:
        return self._location

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("documentationUri", None)
        d.update(
            {
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": settings.SCIM_MAX_PAGE_SIZE},
                "changePassword": {"supported": False},
                "sort": {"supported": True},
                "etag": {"supported": True},  # meta.version, ETag, If-Match, If-None-Match: scim.api.versions
            }
        )
        return d
