"""Values and names as identity providers send them, each read in one place.

Booleans: Entra ID sends them as strings (`"active": "False"`, and in filters
`active eq "True"`); both are accepted in any letter case, anything else is not
a boolean. Attribute names may carry their schema's URN
(`urn:ietf:params:scim:schemas:core:2.0:User:userName`, RFC 7644 §3.10)."""
from __future__ import annotations

from collections.abc import Iterable

from .errors import BadRequest


def parse_bool(value: object) -> bool | None:
    """True/False for a JSON boolean or a "true"/"false" string, else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def coerce_bool(value: object, name: str) -> bool:
    """An attribute's boolean, or a 400 invalidValue naming the attribute."""
    parsed = parse_bool(value)
    if parsed is None:
        raise BadRequest(f'"{name}" must be a boolean, got {type(value).__name__} {value!r}')
    return parsed


def strip_prefix(name: str, prefixes: Iterable[str]) -> str:
    """`name` without the first of `prefixes` it starts with (compared
    case-insensitively, as attribute names are): a schema URN plus ":"."""
    lowered = name.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix.lower()):
            return name[len(prefix):]
    return name
