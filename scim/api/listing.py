"""Paging, sorting and attribute projection for SCIM list responses. Pages are
cut in SQL (COUNT + LIMIT/OFFSET), never by loading the org."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import constants as c
from .errors import BadRequest
from .values import strip_prefix

ALWAYS_RETURNED = frozenset({"id", "schemas"})
MAX_START_INDEX = 2**62


@dataclass(frozen=True)
class ListParams:
    filter: str | None
    start_index: int
    count: int
    sort_by: str | None
    descending: bool
    attributes: tuple[str, ...]
    excluded: tuple[str, ...]


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise BadRequest(f'"{name}" must be an integer') from exc


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, list):
        items = value
    else:
        items = str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def parse_list_params(source: dict[str, Any]) -> ListParams:
    """From the query string or a .search body. startIndex < 1 counts as 1 and a
    count above SCIM_MAX_PAGE_SIZE is clamped (RFC 7644 §3.4.2.4)."""
    # Past any org's size the page is simply empty; bounded so the OFFSET fits a 64-bit integer.
    start = min(max(1, _int(source.get("startIndex"), "startIndex", 1)), MAX_START_INDEX)
    count = _int(source.get("count"), "count", c.DEFAULT_PAGE_SIZE)
    count = min(max(0, count), settings.SCIM_MAX_PAGE_SIZE)
    order = str(source.get("sortOrder") or "ascending").strip().lower()
    if order not in ("ascending", "descending"):
        raise BadRequest('"sortOrder" must be "ascending" or "descending"')
    filter_ = source.get("filter")
    if filter_ is not None and not isinstance(filter_, str):
        raise BadRequest('"filter" must be a string')
    return ListParams(
        filter=filter_.strip() if filter_ and filter_.strip() else None,
        start_index=start,
        count=count,
        sort_by=str(source["sortBy"]) if source.get("sortBy") else None,
        descending=order == "descending",
        attributes=_names(source.get("attributes")),
        excluded=_names(source.get("excludedAttributes")),
    )


def wants(attribute: str, attributes: tuple[str, ...], excluded: tuple[str, ...]) -> bool:
    """Whether a top-level attribute is returned, so callers skip loading it."""
    lowered = attribute.lower()

    def name(a: str) -> str:  # "urn:…:core:2.0:Group:members" names "members" too
        return a.rsplit(":", 1)[-1].lower() if a.lower().startswith("urn:") else a.lower()

    if attributes:
        return any(name(a) == lowered or name(a).startswith(lowered + ".") for a in attributes)
    return not any(name(e) == lowered for e in excluded)


def shape(doc: dict[str, Any], attributes: tuple[str, ...], excluded: tuple[str, ...]) -> dict[str, Any]:
    """Apply `attributes` / `excludedAttributes` (top-level and `parent.sub`)."""
    if not attributes and not excluded:
        return doc
    urns = tuple(f"{urn}:" for urn in doc.get("schemas", []))
    if attributes:
        keep: dict[str, set[str] | None] = {}
        for name in attributes:
            name = strip_prefix(name, urns)
            top, _, sub = name.partition(".")
            if sub:
                if keep.get(top.lower(), set()) is not None:
                    keep.setdefault(top.lower(), set()).add(sub.lower())
            else:
                keep[top.lower()] = None
        out = {}
        for key, value in doc.items():
            lk = key.lower()
            if key in ALWAYS_RETURNED:
                out[key] = value
            elif lk in keep:
                subs = keep[lk]
                if subs is None:
                    out[key] = value
                elif isinstance(value, dict):
                    out[key] = {k: v for k, v in value.items() if k.lower() in subs}
                elif isinstance(value, list):
                    out[key] = [{k: v for k, v in item.items() if k.lower() in subs} for item in value if isinstance(item, dict)]
        return out
    drop_top = set()
    drop_sub: dict[str, set[str]] = {}
    for name in excluded:
        name = strip_prefix(name, urns)
        top, _, sub = name.partition(".")
        if sub:
            drop_sub.setdefault(top.lower(), set()).add(sub.lower())
        else:
            drop_top.add(top.lower())
    out = {}
    for key, value in doc.items():
        lk = key.lower()
        if key not in ALWAYS_RETURNED and lk in drop_top:
            continue
        if lk in drop_sub:
            subs = drop_sub[lk]
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k.lower() not in subs}
            elif isinstance(value, list):
                value = [{k: v for k, v in item.items() if k.lower() not in subs} for item in value if isinstance(item, dict)]
        out[key] = value
    return out


def list_document(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [c.LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
