"""Lookups by key stay point queries whatever PostgreSQL's statistics say.

The trap. PostgreSQL estimates how many rows `organization_id = 42` matches from
the table's statistics, and re-analyzes a table only after about 10% of its rows
changed. An org that imports its users into a database where other orgs hold most
rows is unknown to those statistics for its whole import: the planner believes it
holds a row or two, so walking it (through any index that starts with
organization_id, in id order when the query says `ORDER BY id LIMIT`) looks as
cheap as the key's own index. Every lookup Okta makes before a push then reads
the whole org so far, and the import turns quadratic. A manual ANALYZE fixes the
plan until the next new org.

What the queries below do about it, for filters that name a key:
- the org is compared with `(SELECT %s)`: an uncorrelated subquery, which
  PostgreSQL plans for as a parameter whose value it does not look up in its
  statistics. It costs the org as an average one (the table's rows over its
  organizations), never as one it thinks is empty, so the key's index, which finds
  the row without reading the org, is the cheaper plan. The value is the same, and
  the statement is still scoped to the org. (Only statistics in which an average
  org holds about one row would leave the walk a contender.)
- a filter that matches at most one row (`eq` on a unique key: a User's userName,
  a Group's displayName, an id) has no ORDER BY and no LIMIT: nothing makes the
  id-ordered walk of the org worth anything. The (empty or one-row) page is cut
  here instead.
Filters that name no key (`active eq true`, `userName sw "a"`) keep the plain org
comparison: for them the walk in id order, stopping at a page of matches, is the
right plan, and the org's own statistics the best guide.

tests/scim/api/test_lookup_plans.py reproduces the trap and reads the plans.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from django.db.models import BigIntegerField, Model, Q, QuerySet
from django.db.models.expressions import RawSQL

from .filter_parser import AND, Compare, Logical, Node, ScimFilterError, ValuePath, parse
from .filters import GROUP_URN, USER_URN
from .values import strip_prefix

# Kinds of filter, by what they name.
POINT = "point"  # `eq` on a unique key: at most one row
INDEXED = "indexed"  # `eq` on an indexed, selective attribute: few rows, found through its index
Kind = Literal["point", "indexed"]

# The org in plain SQL (scim.api.user_rows): a value the planner does not look up in its statistics.
ORG_PARAM = "(SELECT %s)"

# Per resource ("user" / "group"): attributes (lower-cased, URN stripped) whose `eq` is a
# point lookup on a unique index, and those found through an index of their own.
_URNS = {"user": USER_URN, "group": GROUP_URN}
_UNIQUE = {
    "user": frozenset({"id", "username"}),  # pk; membership_username_ci_unique_per_org
    "group": frozenset({"id", "displayname"}),  # pk; scimgroup_name_ci_unique_per_org
}
_INDEXED = {
    # membership_extid_ci_idx; membershipemail_value_ci_idx (`emails eq` means `emails.value eq`)
    "user": frozenset({"externalid", "emails.value", "emails"}),
    "group": frozenset(),
}
_INDEXED_ELEMENTS = {"user": {"emails": "value"}, "group": {}}  # `emails[value eq "…"]`


@lru_cache(maxsize=128)  # a request asks more than once (the rows, then maybe their count)
def kind(resource: str, filter_string: str | None) -> Kind | None:
    """POINT, INDEXED or None (no key named, or a filter that does not parse:
    the filter translation reports those). An `and` is as narrow as its
    narrowest side."""
    if not filter_string:
        return None
    try:
        node = parse(filter_string)
    except ScimFilterError:
        return None
    return _kind(resource, node)


def _kind(resource: str, node: Node) -> Kind | None:
    if isinstance(node, Logical):
        if node.op != AND:
            return None
        sides = {_kind(resource, node.left), _kind(resource, node.right)}
        return POINT if POINT in sides else INDEXED if INDEXED in sides else None
    if isinstance(node, Compare):
        if not _is_eq_value(node):
            return None
        path = _strip_urn(resource, node.path)
        if path in _UNIQUE[resource]:
            return POINT
        return INDEXED if path in _INDEXED[resource] else None
    if isinstance(node, ValuePath):
        sub = _INDEXED_ELEMENTS[resource].get(_strip_urn(resource, node.attr))
        if sub is None:
            return None
        if node.tail is not None and node.tail.path == sub and _is_eq_value(node.tail):
            return INDEXED
        return INDEXED if _names_element_key(node.inner, sub) else None
    return None  # Present, Not


def _names_element_key(node: Node, sub: str) -> bool:
    if isinstance(node, Logical):
        return node.op == AND and (_names_element_key(node.left, sub) or _names_element_key(node.right, sub))
    return isinstance(node, Compare) and node.path == sub and _is_eq_value(node)


def _is_eq_value(node: Any) -> bool:
    # `eq null` means "not present"; a boolean is refused by the filter translation.
    return isinstance(node, Compare) and node.op == "eq" and node.value is not None and not isinstance(node.value, bool)


def _strip_urn(resource: str, path: str) -> str:
    return strip_prefix(path, (_URNS[resource],))


def org_scope(model: type[Model], org_id: int) -> QuerySet:
    """`model`'s rows of the org, compared as ORG_PARAM: for lookups by key."""
    return model.objects.filter(Q(organization_id=RawSQL("SELECT %s", (org_id,), output_field=BigIntegerField())))


def window(qs: QuerySet, keys: list, offset: int, limit: int, found_by: Kind | None) -> QuerySet | list:
    """The page of a filtered queryset: ordered and cut in SQL, except for a
    point lookup (at most one row), which is read as it is and cut here."""
    if found_by == POINT:
        return list(qs.order_by())[offset : offset + limit]
    return qs.order_by(*keys)[offset : offset + limit]
