"""The rows of SCIM Users, in plain SQL, for the reads Okta makes all day (the
`userName eq` lookup before every push, the connector test, import paging,
GET by id) with a constant number of queries. scim.api.user_documents decides
when these are used and renders every row, whatever read it, the same way.

On PostgreSQL a lookup, a page or a GET is one statement: each membership row
carries its e-mails and groups as JSON arrays. On SQLite, and for filters other
than `userName eq` (the ORM's compiled filter with `.values()`), it is one query
for the memberships, then one for their e-mails and one for their groups,
however long the page.

A lookup by userName or id is a point query on its unique index whatever the
table's statistics say (see scim.api.lookups): the org is compared as
ORG_PARAM and nothing orders or limits the row it finds."""
from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from organizations.models import Membership, MembershipEmail
from scim.models import ScimGroup, ScimGroupMember
from scim.rawsql import Columns, fetch, fetch_read, placeholders, qn

from .lookups import ORG_PARAM

MEMBER = Columns(
    Membership,
    ("id", "scim_external_id", "scim_username", "given_name", "family_name", "display_name", "active",
     "scim_extra", "created_at", "updated_at"),
)
EMAIL = Columns(MembershipEmail, ("membership_id", "value", "type", "primary", "display"))
GROUP_LINK = Columns(ScimGroupMember, ("membership_id", "group_id"))
GROUP_NAME = Columns(ScimGroup, ("display_name",))


@lru_cache(maxsize=None)
def _member_sql(vendor: str, by: str, descending: bool = False, groups: bool = True) -> str:
    """by: "page" (the org's users by id), "username" (case-insensitive, the
    unique LOWER(scim_username) per org) or "id". On PostgreSQL each row also
    carries its e-mails and groups as JSON arrays, so a lookup is one statement."""
    pk = MEMBER.column("id")
    org = MEMBER.column("organization")
    if by == "username":  # at most one row: no ORDER BY / LIMIT (scim.api.lookups)
        where = f"{org} = {ORG_PARAM} AND LOWER({MEMBER.column('scim_username')}) = LOWER(%s)"
    elif by == "id":
        where = f"{org} = {ORG_PARAM} AND {pk} = %s"
    else:
        # A page, or the `externalId eq` lookup (case-exact, as the filter translation
        # compares it, scim.api.filters, through the LOWER() index; not unique, so
        # cut like any page): the page is cut on ids alone (for a page an index-only
        # scan of (organization, id)), so the e-mail and group subqueries below run
        # for its rows only, never for the OFFSET rows skipped before them.
        order = f"ORDER BY {pk} {'DESC' if descending else 'ASC'}"
        match = _EXTERNAL_ID_MATCH if by == "externalid" else f"{org} = %s"
        ids = f"SELECT {pk} FROM {qn(MEMBER.table)} WHERE {match} {order} LIMIT %s OFFSET %s"
        # On PostgreSQL the ids are an array read by primary key: the statement is
        # prepared, and its generic plan (which knows neither LIMIT nor OFFSET)
        # then stays the custom one; with `IN (ids)` it merge-joined the whole
        # primary key index instead, so PostgreSQL kept planning every run.
        where = f"{pk} = ANY(ARRAY({ids})) {order}" if vendor == "postgresql" else f"{pk} IN ({ids}) {order}"
    related = ""
    if vendor == "postgresql":
        e, link, name = EMAIL, GROUP_LINK, GROUP_NAME
        related = (
            f", (SELECT json_agg(json_build_array({e.column('value')}, {e.column('type')}, {e.column('primary')}, "
            f"{e.column('display')}) ORDER BY {e.column('primary')} DESC, {e.column('id')}) "
            f"FROM {qn(e.table)} WHERE {e.column('membership')} = {MEMBER.column('id')})"
        )
        # Each group's name by its primary key: a join let the planner hash the
        # whole group table (every org's groups) for a member's few links.
        related += (
            f", (SELECT json_agg(json_build_array({link.column('group')}, "
            f"(SELECT {name.column('display_name')} FROM {qn(name.table)} WHERE {name.column('id')} = {link.column('group')})) "
            f"ORDER BY {link.column('group')}) FROM {qn(link.table)} "
            f"WHERE {link.column('membership')} = {MEMBER.column('id')})"
            if groups
            else ", NULL"
        )
    return f"SELECT {MEMBER.select}{related} FROM {qn(MEMBER.table)} WHERE {where}"


_EXTERNAL_ID_MATCH = (
    f"{MEMBER.column('organization')} = {ORG_PARAM} "
    f"AND LOWER({MEMBER.column('scim_external_id')}) = LOWER(%s) AND {MEMBER.column('scim_external_id')} = %s"
)


def _json(value: Any) -> list:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, (str, bytes)) else value


# The PostgreSQL types of each read's parameters: these statements are prepared
# (scim.rawsql.fetch_prepared), so they are parsed and planned once per connection.
_TYPES = {
    "page": ("bigint", "bigint", "bigint"),  # org, limit, offset
    "username": ("bigint", "text"),
    "externalid": ("bigint", "text", "text", "bigint", "bigint"),
    "id": ("bigint", "bigint"),
}


def _members(by: str, params: list, groups: bool, descending: bool = False) -> list[dict[str, Any]]:
    rows = []
    width = len(MEMBER)
    for raw in fetch_read(_member_sql(connection.vendor, by, descending, groups), params, _TYPES[by]):
        row = MEMBER.as_dict(raw)
        if len(raw) > width:  # PostgreSQL: e-mails and groups came along
            row["emails"] = [email_entry(*e) for e in _json(raw[width])]
            row["groups"] = [tuple(g) for g in _json(raw[width + 1])] if groups else None
        rows.append(row)
    return rows


def page(org_id: int, *, limit: int, offset: int, descending: bool = False, groups: bool = True) -> list[dict[str, Any]]:
    return _members("page", [org_id, limit, offset], groups, descending)


def by_username(org_id: int, user_name: str, *, limit: int, offset: int, groups: bool = True) -> list[dict[str, Any]]:
    rows = _members("username", [org_id, user_name], groups)
    return rows[offset : offset + limit]  # the page of a list that holds at most one row


def by_external_id(org_id: int, external_id: str, *, limit: int, offset: int, groups: bool = True) -> list[dict[str, Any]]:
    return _members("externalid", [org_id, external_id, external_id, limit, offset], groups)


def by_id(org_id: int, pk: int, *, groups: bool = True) -> dict[str, Any] | None:
    rows = _members("id", [org_id, pk], groups)
    return rows[0] if rows else None


def from_queryset(qs: QuerySet) -> QuerySet:
    """The rows of an ORM queryset of memberships (to be ordered and cut)."""
    return qs.values(*MEMBER.names)


@lru_cache(maxsize=64)
def _email_sql(n: int) -> str:
    return (
        f"SELECT {EMAIL.select} FROM {qn(EMAIL.table)} WHERE {EMAIL.column('membership')} IN ({placeholders(n)}) "
        f"ORDER BY {EMAIL.column('membership')}, {EMAIL.column('primary')} DESC, {EMAIL.column('id')}"
    )


@lru_cache(maxsize=64)
def _group_sql(n: int) -> str:
    link, name = GROUP_LINK, GROUP_NAME
    return (
        f"SELECT {link.select}, {name.select} FROM {qn(link.table)} "
        f"JOIN {qn(name.table)} ON {name.column('id')} = {link.column('group')} "
        f"WHERE {link.column('membership')} IN ({placeholders(n)}) "
        f"ORDER BY {link.column('membership')}, {link.column('group')}"
    )


def attach(rows: list[dict[str, Any]], *, groups: bool) -> list[dict[str, Any]]:
    """Add each row's "emails" (primary first) and, if asked, "groups" (by id),
    unless the rows came with them (PostgreSQL)."""
    if not rows or "emails" in rows[0]:
        return rows
    ids = [row["id"] for row in rows]
    by_member: dict[int, dict[str, Any]] = {}
    for row in rows:
        row["emails"] = []
        row["groups"] = [] if groups else None
        by_member[row["id"]] = row
    for raw in fetch(_email_sql(len(ids)), ids):
        membership_id, *email = EMAIL.values(raw)
        by_member[membership_id]["emails"].append(email_entry(*email))
    if groups:
        for raw in fetch(_group_sql(len(ids)), ids):
            member_id, group_id = GROUP_LINK.values(raw)
            by_member[member_id]["groups"].append((group_id, GROUP_NAME.values(raw, len(GROUP_LINK))[0]))
    return rows


def row_of(m: Membership, emails: Iterable[MembershipEmail], group_links: Iterable[ScimGroupMember] | None) -> dict[str, Any]:
    """The row of a Membership object (a write response renders what it just wrote)."""
    row = {name: getattr(m, name) for name in MEMBER.names}
    row["emails"] = [email_entry(e.value, e.type, e.primary, e.display) for e in emails]
    row["groups"] = None if group_links is None else [(link.group_id, link.group.display_name) for link in group_links]
    return row


def email_entry(value: str, type_: str, primary: bool, display: str) -> dict[str, Any]:
    """An e-mail as a row holds it (and PATCH edits it), whichever way it was read."""
    return {"value": value, "type": type_, "primary": primary, "display": display}


# --- the row a User write locks, with what its response renders ---------------
# A PUT, PATCH or DELETE locks the membership and needs its e-mails (PATCH's
# document, the service's "before") and groups (the response is rendered from
# the object written, not read back): in plain SQL, as the reads are, since
# compiling the ORM's locking query cost more than the rest of a PUT's Python.

WRITE_ROW = Columns(Membership)  # every column: the adapter and services get a whole Membership


@lru_cache(maxsize=None)
def _locked_sql(vendor: str) -> str:
    org, pk = WRITE_ROW.column("organization"), WRITE_ROW.column("id")
    related = ""
    if vendor == "postgresql":  # e-mails and groups as JSON, in the locking statement itself
        e, link, name = EMAIL, GROUP_LINK, GROUP_NAME
        related = (
            f", (SELECT json_agg(json_build_array({e.column('value')}, {e.column('type')}, {e.column('primary')}, "
            f"{e.column('display')}) ORDER BY {e.column('primary')} DESC, {e.column('id')}) "
            f"FROM {qn(e.table)} WHERE {e.column('membership')} = {pk})"
            f", (SELECT json_agg(json_build_array({link.column('group')}, {name.column('display_name')}) "
            f"ORDER BY {link.column('group')}) FROM {qn(link.table)} "
            f"JOIN {qn(name.table)} ON {name.column('id')} = {link.column('group')} "
            f"WHERE {link.column('membership')} = {pk})"
        )
    lock = " FOR UPDATE OF " + qn(WRITE_ROW.table) if vendor == "postgresql" else ""
    return f"SELECT {WRITE_ROW.select}{related} FROM {qn(WRITE_ROW.table)} WHERE {org} = {ORG_PARAM} AND {pk} = %s{lock}"


def locked_for_write(org_id: int, pk: int) -> Membership | None:
    """The org's membership `pk`, locked (FOR UPDATE) in the caller's transaction,
    with its e-mails and groups attached as a prefetch would: one statement on
    PostgreSQL, three elsewhere. None when the org has no such membership."""
    rows = fetch(_locked_sql(connection.vendor), [org_id, pk])
    if not rows:
        return None
    raw = rows[0]
    m = WRITE_ROW.instance(raw)
    width = len(WRITE_ROW)
    if len(raw) > width:
        emails = [email_entry(*e) for e in _json(raw[width])]
        groups = [tuple(g) for g in _json(raw[width + 1])]
    else:
        emails = [email_entry(*EMAIL.values(r)[1:]) for r in fetch(_email_sql(1), [pk])]
        groups = [
            (GROUP_LINK.values(r)[1], GROUP_NAME.values(r, len(GROUP_LINK))[0]) for r in fetch(_group_sql(1), [pk])
        ]
    links = []
    for group_id, display_name in groups:
        link = ScimGroupMember(membership_id=pk, group_id=group_id)
        link.group = ScimGroup(pk=group_id, organization_id=org_id, display_name=display_name)
        links.append(link)
    m._prefetched_objects_cache = {
        "email_set": [MembershipEmail(membership_id=pk, **e) for e in emails],
        "group_memberships": links,
    }
    return m
