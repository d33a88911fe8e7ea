"""Shared pieces of the SCIM adapters: absolute URLs of an org's routes, service
errors translated to SCIM errors, and lenient attribute reading."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from organizations.models import Membership
from organizations.services import OwnershipError, ServiceError
from scim import provisioning

from .errors import BadRequest, Conflict, Forbidden


def get_membership_model() -> type[Membership]:
    """USER_MODEL_GETTER: the SCIM User resource is the org membership."""
    return Membership


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def resource_url(request, name: str, **kwargs: Any) -> str:
    """Absolute URL of a route of this org (django-scim2 reverses without an org)."""
    return absolute(reverse(f"scim_api:{name}", kwargs={"org_uid": request.scim_org.uid, **kwargs}))


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


def _string(d: dict, key: str, *, default: str = "") -> str:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadRequest(f'"{key}" must be a string, got {type(value).__name__}')
    return value


def _ci_get(d: dict, key: str) -> Any:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    if key in d:
        return d[key]
    lowered = key.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None
