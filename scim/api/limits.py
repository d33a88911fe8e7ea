"""What each writable attribute may hold, checked before anything is written.

Nothing is ever truncated or coerced on the way to the database: a value longer
than its column, or of another type than the published schema declares (a
number or an object where a string is declared), is refused with 400
`invalidValue` and a detail naming the attribute and the limit, on POST, PUT and
PATCH alike (a PATCH is applied to a document that is then checked like a PUT).
The limits come from the columns that store the values, and /Schemas repeats
them in each attribute's description."""
from __future__ import annotations

from typing import Any

from organizations.models import Membership, MembershipEmail
from scim.models import ScimGroup

from . import constants as c
from .errors import BadRequest


def _max(model, field: str) -> int:
    return model._meta.get_field(field).max_length


# Attributes stored in the scim_extra JSON (no column limit of their own) are held
# to the same length as their column siblings.
EXTRA_MAX = _max(Membership, "display_name")

# Attribute path (as /Schemas names it; extension attributes as "<URN>:<attr>") -> characters.
USER_LIMITS: dict[str, int] = {
    "userName": _max(Membership, "scim_username"),
    "externalId": _max(Membership, "scim_external_id"),
    "displayName": _max(Membership, "display_name"),
    "name.givenName": _max(Membership, "given_name"),
    "name.familyName": _max(Membership, "family_name"),
    "name.formatted": EXTRA_MAX,
    "name.middleName": EXTRA_MAX,
    "name.honorificPrefix": EXTRA_MAX,
    "name.honorificSuffix": EXTRA_MAX,
    "emails.value": _max(MembershipEmail, "value"),
    "emails.type": _max(MembershipEmail, "type"),
    "emails.display": _max(MembershipEmail, "display"),
    **{
        f"{c.ENTERPRISE_USER_SCHEMA}:{name}": EXTRA_MAX
        for name in ("employeeNumber", "costCenter", "organization", "division", "department")
    },
    f"{c.ENTERPRISE_USER_SCHEMA}:manager.value": EXTRA_MAX,
    f"{c.ENTERPRISE_USER_SCHEMA}:manager.$ref": EXTRA_MAX,
}
GROUP_LIMITS: dict[str, int] = {
    "displayName": _max(ScimGroup, "display_name"),
    "externalId": _max(ScimGroup, "external_id"),
}


class InvalidValue(BadRequest):
    """400 invalidValue: the value does not fit the attribute's type or storage."""


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def string(value: Any, attribute: str, limits: dict[str, int]) -> str:
    """A string attribute's value as given ("" when absent or null), refused when
    it is not a string or longer than its column."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f'"{attribute}" must be a string, got {_type_name(value)}')
    limit = limits.get(attribute)
    if limit is not None and len(value) > limit:
        raise InvalidValue(f'"{attribute}" is {len(value)} characters long; at most {limit} can be stored')
    return value


def user_string(value: Any, attribute: str) -> str:
    return string(value, attribute, USER_LIMITS)


def group_string(value: Any, attribute: str) -> str:
    return string(value, attribute, GROUP_LIMITS)


def complex_value(value: Any, attribute: str) -> dict[str, Any]:
    """A complex attribute's object ({} when absent or null)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(f'"{attribute}" must be an object, got {_type_name(value)}')
    return value


def describe(attribute: str, limits: dict[str, int]) -> str:
    """The sentence /Schemas adds to an attribute's description ("" if unlimited)."""
    limit = limits.get(attribute)
    return f" At most {limit} characters." if limit else ""
