"""SCIM User documents: the one place that decides how users are read, and the
one renderer of a User, for reads and write responses alike.

How users are read is decided here and only here (views ask for a page or a
user and never learn how it was read): the reads Okta makes all day (an
unfiltered page by id, the `userName eq` lookup before every push, GET by id)
come from scim.api.user_rows in plain SQL with a constant number of queries;
any other filter or sort runs the ORM's compiled filter (scim.api.filters,
cut by scim.api.lookups.window) and reads the same rows with `.values()`. Either way the rows have one shape
(user_rows.row_of) and are rendered by `render_user`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from organizations.models import Membership

from . import constants as c
from . import lookups, user_rows, versions
from .adapter_base import document_urls
from .filters import username_eq
from .listing import ListParams, shape, wants


def _wants_groups(params: ListParams | None) -> bool:
    return params is None or wants("groups", params.attributes, params.excluded)


def _shaped(docs: list[dict[str, Any]], params: ListParams | None) -> list[dict[str, Any]]:
    return [shape(doc, params.attributes, params.excluded) for doc in docs] if params else docs


def page(
    request: HttpRequest, params: ListParams, order: list, offset: int, limit: int, filtered: Callable[[], QuerySet]
) -> list[dict[str, Any]]:
    """The documents of one page: `order` is the resolved sortBy (order_by keys),
    `filtered` the org's memberships with the filter applied (only called when
    the plain-SQL reads cannot answer)."""
    org_id = request.scim_org.pk
    groups = _wants_groups(params)
    by_id = order in (["pk"], ["-pk"])
    user_name = username_eq(params.filter) if params.filter else None
    if by_id and params.filter is None:
        rows = user_rows.page(org_id, limit=limit, offset=offset, descending=order == ["-pk"], groups=groups)
    elif by_id and user_name is not None:
        rows = user_rows.by_username(org_id, user_name, limit=limit, offset=offset, groups=groups)
    else:
        qs = user_rows.from_queryset(filtered())
        rows = list(lookups.window(qs, order, offset, limit, lookups.kind("user", params.filter)))
    return render_rows(request, rows, params)


def one(request: HttpRequest, pk: int, params: ListParams | None) -> tuple[dict[str, Any], str, str] | None:
    """(document, userName, version) of the org's user with this id, or None."""
    row = user_rows.by_id(request.scim_org.pk, pk, groups=_wants_groups(params))
    if row is None:
        return None
    doc = render_rows(request, [row], params)[0]
    return doc, row["scim_username"], versions.user(row["updated_at"], row["groups"])


def render_rows(request: HttpRequest, rows: list[dict[str, Any]], params: ListParams | None) -> list[dict[str, Any]]:
    user_rows.attach(rows, groups=_wants_groups(params))
    users_url, groups_url = document_urls(request)
    return _shaped([render_user(row, users_url, groups_url) for row in rows], params)


def of_membership(request: HttpRequest, membership: Membership, params: ListParams | None) -> dict[str, Any]:
    """A user just written: its e-mails and groups are attached by the service
    (a prefetch), so rendering reads nothing."""
    groups = membership.group_memberships.all() if _wants_groups(params) else None
    row = user_rows.row_of(membership, membership.email_set.all(), groups)
    return _shaped([render_user(row, *document_urls(request))], params)[0]


def version_of(membership: Membership, params: ListParams | None) -> str:
    """The version of a user just written (its groups are attached by the service)."""
    groups = membership.group_memberships.all() if _wants_groups(params) else None
    return versions.user(membership.updated_at, user_rows.row_of(membership, (), groups)["groups"])


def render_user(row: dict[str, Any], users_url: str, groups_url: str) -> dict[str, Any]:
    """The SCIM User document of a membership row with "emails" and "groups"
    (None: groups not wanted) attached."""
    d: dict[str, Any] = {"schemas": [c.USER_SCHEMA], "id": str(row["id"])}
    if row["scim_external_id"]:
        d["externalId"] = row["scim_external_id"]
    d["userName"] = row["scim_username"]
    extra = row["scim_extra"] or {}
    name = {k: v for k, v in (("givenName", row["given_name"]), ("familyName", row["family_name"])) if v}
    name.update((k, v) for k, v in ((extra.get(c.USER_SCHEMA) or {}).get("name") or {}).items() if v)
    if name:
        d["name"] = name
    if row["display_name"]:
        d["displayName"] = row["display_name"]
    emails = [_email(e) for e in row["emails"]]
    if emails:
        d["emails"] = emails
    d["active"] = row["active"]
    if row["groups"]:
        d["groups"] = [
            {"value": str(gid), "$ref": f"{groups_url}/{gid}", "display": display, "type": "direct"}
            for gid, display in row["groups"]
        ]
    enterprise = extra.get(c.ENTERPRISE_USER_SCHEMA)
    if enterprise:
        d["schemas"].append(c.ENTERPRISE_USER_SCHEMA)
        d[c.ENTERPRISE_USER_SCHEMA] = enterprise
    d["meta"] = {
        "resourceType": "User",
        "created": row["created_at"].isoformat(),
        "lastModified": row["updated_at"].isoformat(),
        "location": f"{users_url}/{row['id']}",
        "version": versions.user(row["updated_at"], row["groups"]),
    }
    return d


def _email(e: dict[str, Any]) -> dict[str, Any]:
    """An e-mail of the document: empty `type` and `display` left out."""
    item = {"value": e["value"], "primary": e["primary"]}
    if e["type"]:
        item["type"] = e["type"]
    if e["display"]:
        item["display"] = e["display"]
    return item
