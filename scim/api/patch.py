"""PATCH (RFC 7644 §3.5.2): the one check of a request's `Operations` list, and
paths as the IdPs send them, parsed into a small value object. django-scim2 turns paths into scim2-filter-parser AttrPaths, which cannot
express `emails[type eq "work"].value` nor extension URNs with attribute names,
so adapters override `split_path` with this."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import constants as c
from .errors import BadRequest, InvalidPath

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


def patch_operations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The PATCH `Operations` list, shape-checked before any operation is applied:
    each an object with a string `op` and, if present, a string (or null) `path`.
    A bad operation anywhere refuses the whole request (nothing half-applied)."""
    operations = body.get("Operations", body.get("operations"))
    if not operations:
        raise BadRequest('A PATCH needs a non-empty "Operations" list')
    if not isinstance(operations, list):
        raise BadRequest('"Operations" must be a list')
    for number, operation in enumerate(operations, 1):
        if not isinstance(operation, dict):
            raise BadRequest(f"Operation {number} must be an object")
        op = operation.get("op")
        if not isinstance(op, str) or op.strip().lower() not in c.PATCH_OPS:
            raise BadRequest(f'Operation {number}: "op" must be one of {", ".join(c.PATCH_OPS)}, got {op!r}'[:300])
        path = operation.get("path")
        if path is not None and not isinstance(path, str):
            raise BadRequest(f'Operation {number}: "path" must be a string, got {type(path).__name__}')
    return operations
