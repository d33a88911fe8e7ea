"""PATCH paths (RFC 7644 §3.5.2) as the IdPs send them, parsed into a small value
object. django-scim2 turns paths into scim2-filter-parser AttrPaths, which cannot
express `emails[type eq "work"].value` nor extension URNs with attribute names,
so adapters override `split_path` with this."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import constants as c
from .errors import InvalidPath

_CORE_PREFIXES = (c.USER_SCHEMA.lower() + ":", c.GROUP_SCHEMA.lower() + ":")
_ATTR = r"[A-Za-z$][\w$-]*"
_PATH_RE = re.compile(rf"^(?P<attr>{_ATTR})(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>{_ATTR}))?$")
_FILTER_RE = re.compile(r'^\s*(?P<attr>[A-Za-z$][\w$.-]*)\s+eq\s+(?:"(?P<q>(?:[^"\\]|\\.)*)"|(?P<bare>\S+))\s*$', re.I)


@dataclass(frozen=True)
class PatchPath:
    """`attr[filter_attr eq filter_value].sub`, names lower-cased; `urn` is set for
    extension attributes (then `attr` is the attribute inside that schema)."""

    attr: str
    sub: str | None = None
    filter_attr: str | None = None
    filter_value: str | None = None
    urn: str | None = None
    raw: str = ""

    @property
    def dotted(self) -> str:
        return f"{self.attr}.{self.sub}" if self.sub else self.attr


def parse_path(path: str) -> PatchPath:
    raw = path.strip()
    text = raw
    lowered = text.lower()
    for prefix in _CORE_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if lowered.startswith(c.ENTERPRISE_USER_SCHEMA.lower() + ":"):
            # Entra: "urn:...:enterprise:2.0:User:department" (or manager.value).
            attr, _, sub = text[len(c.ENTERPRISE_USER_SCHEMA) + 1:].partition(".")
            return PatchPath(attr=attr, sub=sub or None, urn=c.ENTERPRISE_USER_SCHEMA, raw=raw)
        if lowered == c.ENTERPRISE_USER_SCHEMA.lower():
            return PatchPath(attr="", urn=c.ENTERPRISE_USER_SCHEMA, raw=raw)
        if lowered.startswith("urn:"):
            return PatchPath(attr="", urn=text, raw=raw)  # another extension: ignored by callers
    match = _PATH_RE.match(text)
    if not match:
        raise InvalidPath(f"Unsupported PATCH path {raw!r}")
    filter_attr = filter_value = None
    if match["filter"] is not None:
        fmatch = _FILTER_RE.match(match["filter"])
        if not fmatch:
            raise InvalidPath(f"Unsupported filter in PATCH path {raw!r}: only `attribute eq value` is supported")
        filter_attr = fmatch["attr"].lower()
        filter_value = fmatch["q"] if fmatch["q"] is not None else fmatch["bare"]
        if fmatch["q"] is not None:
            filter_value = re.sub(r"\\(.)", r"\1", filter_value)
    return PatchPath(
        attr=match["attr"].lower(),
        sub=match["sub"].lower() if match["sub"] else None,
        filter_attr=filter_attr,
        filter_value=filter_value,
        raw=raw,
    )


TRUE_STRINGS = frozenset({"true"})
FALSE_STRINGS = frozenset({"false"})


def coerce_bool(value: object, name: str) -> bool:
    """Entra sends booleans as strings ("False"); accept those, refuse the rest."""
    from .errors import BadRequest

    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_STRINGS:
            return True
        if lowered in FALSE_STRINGS:
            return False
    raise BadRequest(f'"{name}" must be a boolean, got {type(value).__name__} {value!r}')


def validate_operations(operations: object) -> list[dict]:
    """Shape check before django-scim2's driver walks the list: a list of objects
    with a string `op` and, if present, a string `path`."""
    from .errors import BadRequest

    if not isinstance(operations, list):
        raise BadRequest('"Operations" must be a list')
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise BadRequest('Every operation needs an "op" string')
        if operation.get("path") is not None and not isinstance(operation["path"], str):
            raise BadRequest('"path" must be a string')
    return operations
