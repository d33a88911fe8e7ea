"""SCIM filters and sortBy as Django ORM expressions, for Users (Membership) and Groups (ScimGroup).

The caller scopes by org: `Membership.objects.filter(organization=org).filter(user_filter_q(f))`.
Everything here is a Q (never raw SQL), so an `or` in the filter stays inside that scope,
and multi-valued attributes (emails, members) are `Exists` subqueries, so rows are never
duplicated and `not`/`ne` mean "no element matches".

Semantics worth knowing:
- `ne` is the negation of `eq`, also for multi-valued attributes (`emails.value ne "x"`:
  no e-mail is x), so `a ne v` and `not (a eq v)` always agree.
- `eq null` means "not present", `ne null` "present".
- Case-insensitive `eq` compares `LOWER(column)` with `LOWER(value)` in the database, which
  is what the Lower(...) unique constraints and indexes use, so the lookup is indexed and finds
  exactly the row uniqueness would clash with.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, time, timezone as dt_timezone
from functools import reduce
from typing import Any, Callable

from django.db.models import CharField, Exists, F, Func, OrderBy, OuterRef, Q, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Length, Lower, StrIndex, Substr
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)
from django.utils.dateparse import parse_date, parse_datetime

from organizations.models import MembershipEmail
from scim.api.filter_parser import (
    AND,
    Compare,
    Logical,
    Node,
    Not,
    Present,
    ScimFilterError,
    ValuePath,
    parse,
)
from scim.models import ScimGroupMember

from . import constants as c
from .values import parse_bool, strip_prefix

__all__ = [
    "ScimFilterError",
    "apply_sort_order",
    "group_filter_q",
    "group_sort_key",
    "user_filter_q",
    "user_sort_key",
    "username_eq",
]

USER_URN = c.USER_SCHEMA.lower() + ":"  # paths reach the translator lower-cased
GROUP_URN = c.GROUP_SCHEMA.lower() + ":"
MAX_ID = 2**63 - 1

STRING, BOOLEAN, DATETIME, ID, REFERENCE = "string", "boolean", "datetime", "id", "reference"
ORDER_OPS = {"gt": GreaterThan, "ge": GreaterThanOrEqual, "lt": LessThan, "le": LessThanOrEqual}
ORDER_LOOKUPS = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


class BinaryCollate(Func):
    """Byte-wise string order on both databases, so gt/lt/sortBy agree on SQLite (BINARY by
    default) and PostgreSQL (whose default collation may be locale-aware)."""

    template = "%(expressions)s"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template='%(expressions)s COLLATE "C"', **extra)


@dataclass(frozen=True)
class Attr:
    """A single-valued attribute, `column` relative to the model being filtered.

    `json`: the attribute lives in the `scim_extra` JSON (name sub-attributes beyond
    the given and family name, the enterprise extension) at this key path; a key
    never written reads as "", like an empty column, so `ne`, `pr` and sorting
    treat "never set" and "empty" alike. `constant`: a value every element has
    (`groups.type` is always "direct")."""

    kind: str
    column: str = ""
    case_exact: bool = True
    lower_indexed: bool = False  # has a Lower(column) index: use it for case-exact eq too
    json: tuple[str, ...] = ()
    constant: str | None = None

    def expr(self) -> Any:
        if self.constant is not None:
            return Value(self.constant, output_field=CharField())
        if self.json:
            return Coalesce(KT("__".join(("scim_extra", *self.json))), Value(""), output_field=CharField())
        return F(self.column)


@dataclass(frozen=True)
class MultiValued:
    """A multi-valued complex attribute stored as rows of `model` pointing back through `fk`."""

    model: type
    fk: str
    subs: dict[str, Attr]
    default_sub: str = "value"


@dataclass(frozen=True)
class Resource:
    urn: str
    simple: dict[str, Attr]
    multi: dict[str, MultiValued] = field(default_factory=dict)
    # Complex single-valued attributes (`name pr`): present when any of these is.
    complex_present: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _id() -> Attr:
    return Attr(ID, "pk")


def _meta() -> dict[str, Attr]:
    return {"meta.created": Attr(DATETIME, "created_at"), "meta.lastmodified": Attr(DATETIME, "updated_at")}


def _extra(*path: str, case_exact: bool = False) -> Attr:
    return Attr(STRING, json=path, case_exact=case_exact)


# The name sub-attributes kept in scim_extra (givenName and familyName are columns).
NAME_EXTRAS = ("formatted", "middleName", "honorificPrefix", "honorificSuffix")
ENTERPRISE_STRINGS = ("employeeNumber", "costCenter", "organization", "division", "department")
ENTERPRISE_MANAGER = ("value", "$ref", "displayName")
_ENT = c.ENTERPRISE_USER_SCHEMA.lower() + ":"

USER = Resource(
    urn=USER_URN,
    simple={
        "id": _id(),
        "username": Attr(STRING, "scim_username", case_exact=False),
        "externalid": Attr(STRING, "scim_external_id", lower_indexed=True),
        "displayname": Attr(STRING, "display_name", case_exact=False),
        "name.givenname": Attr(STRING, "given_name", case_exact=False),
        "name.familyname": Attr(STRING, "family_name", case_exact=False),
        **{f"name.{sub.lower()}": _extra(c.USER_SCHEMA, "name", sub) for sub in NAME_EXTRAS},
        "active": Attr(BOOLEAN, "active"),
        **{_ENT + a.lower(): _extra(c.ENTERPRISE_USER_SCHEMA, a) for a in ENTERPRISE_STRINGS},
        **{
            f"{_ENT}manager.{sub.lower()}": _extra(c.ENTERPRISE_USER_SCHEMA, "manager", sub, case_exact=sub == "$ref")
            for sub in ENTERPRISE_MANAGER
        },
        **_meta(),
    },
    multi={
        "emails": MultiValued(
            MembershipEmail,
            "membership",
            {
                "value": Attr(STRING, "value", case_exact=False),
                "type": Attr(STRING, "type", case_exact=False),
                "primary": Attr(BOOLEAN, "primary"),
                "display": Attr(STRING, "display", case_exact=False),
            },
        ),
        # readOnly, but published, so filterable: `groups.value eq "<group id>"`
        "groups": MultiValued(
            ScimGroupMember,
            "membership",
            {
                "value": Attr(ID, "group_id"),
                "$ref": Attr(REFERENCE, "group_id"),
                "display": Attr(STRING, "group__display_name", case_exact=False),
                "type": Attr(STRING, case_exact=False, constant="direct"),
            },
        ),
    },
    complex_present={
        "name": ("name.givenname", "name.familyname", *(f"name.{sub.lower()}" for sub in NAME_EXTRAS)),
        _ENT + "manager": tuple(f"{_ENT}manager.{sub.lower()}" for sub in ENTERPRISE_MANAGER),
    },
)

GROUP = Resource(
    urn=GROUP_URN,
    simple={
        "id": _id(),
        "displayname": Attr(STRING, "display_name", case_exact=False),
        "externalid": Attr(STRING, "external_id"),
        **_meta(),
    },
    multi={
        "members": MultiValued(
            ScimGroupMember,
            "group",
            {
                "value": Attr(ID, "membership_id"),
                "$ref": Attr(REFERENCE, "membership_id"),
                "type": Attr(STRING, case_exact=False, constant="User"),
            },
        )
    },
)

EVERYTHING = Q(pk__isnull=False)  # not Q(): an empty Q vanishes when or-ed (`Q() | x` is `x`)
NOTHING = Q(pk__in=[])


# -- public API ---------------------------------------------------------------------------


def user_filter_q(filter_string: str) -> Q:
    """A Q over Membership; combine it with the caller's organization filter."""
    return _Translator(USER).node(parse(filter_string))


def group_filter_q(filter_string: str) -> Q:
    """A Q over ScimGroup; combine it with the caller's organization filter."""
    return _Translator(GROUP).node(parse(filter_string))


def username_eq(filter_string: str) -> str | None:
    """The value of a filter that is exactly `userName eq "<string>"` (Okta's lookup
    before every push), which scim.api.user_documents reads without the ORM; None for
    any other filter, a malformed one included (user_filter_q reports those)."""
    try:
        node = parse(filter_string)
    except ScimFilterError:
        return None
    if (
        isinstance(node, Compare)
        and node.op == "eq"
        and isinstance(node.value, str)
        and _strip_urn(USER, node.path) == "username"
    ):
        return node.value
    return None


def user_sort_key(sort_by: str | None) -> list[str | OrderBy]:
    """Ascending ordering for sortBy, always ending with the pk so pages are stable."""
    return _sort_key(USER, sort_by)


def group_sort_key(sort_by: str | None) -> list[str | OrderBy]:
    """Ascending ordering for sortBy on Groups, ending with the pk."""
    return _sort_key(GROUP, sort_by)


def apply_sort_order(keys: list[str | OrderBy], descending: bool) -> list[str | OrderBy]:
    """sortOrder=descending reverses every key, the pk tie-break included."""
    if not descending:
        return list(keys)
    flipped: list[str | OrderBy] = []
    for key in keys:
        if isinstance(key, OrderBy):
            flipped.append(OrderBy(key.expression, descending=not key.descending))
        else:
            flipped.append(key[1:] if key.startswith("-") else f"-{key}")
    return flipped


def _sort_key(resource: Resource, sort_by: str | None) -> list[str | OrderBy]:
    """RFC 7644 §3.4.2.3: any singular attribute (sub-attributes of complex ones
    included); a multi-valued one sorts by its primary element, else its first
    (`emails` is `emails.value`). An element-less resource sorts as "" would."""
    if sort_by is None or not sort_by.strip():
        return ["pk"]
    name = _strip_urn(resource, sort_by.strip().lower())
    attr = resource.simple.get(name)
    if attr is None:
        head, _, sub = name.partition(".")
        multi = resource.multi.get(head)
        attr = multi.subs.get(sub or multi.default_sub) if multi is not None else None
        if attr is None:
            raise ScimFilterError(f"Cannot sort by unknown attribute {sort_by!r}.")
        element = multi.model.objects.filter(**{multi.fk: OuterRef("pk")}).order_by(*multi.model._meta.ordering or ["pk"])
        first = Coalesce(Subquery(element.annotate(_key=attr.expr()).values("_key")[:1]), Value(_NO_ELEMENT[attr.kind]))
        if attr.kind == STRING:
            return [OrderBy(BinaryCollate(first if attr.case_exact else Lower(first))), "pk"]
        return [OrderBy(first), "pk"]
    if attr.kind == ID:
        return ["pk"]
    if attr.kind == STRING:
        expr = attr.expr() if attr.case_exact else Lower(attr.expr())
        return [OrderBy(BinaryCollate(expr)), "pk"]
    return [attr.column, "pk"]


_NO_ELEMENT = {STRING: "", ID: 0, REFERENCE: 0, BOOLEAN: False}


def _strip_urn(resource: Resource, path: str) -> str:
    return strip_prefix(path, (resource.urn,))


# -- translation --------------------------------------------------------------------------


class _Translator:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource

    def node(self, node: Node) -> Q:
        if isinstance(node, Logical):
            left, right = self.node(node.left), self.node(node.right)
            return (left & right) if node.op == AND else (left | right)
        if isinstance(node, Not):
            return ~self.node(node.operand)
        if isinstance(node, ValuePath):
            return self.value_path(node)
        return self.leaf(node)

    def leaf(self, node: Compare | Present) -> Q:
        path = _strip_urn(self.resource, node.path)
        attr = self.resource.simple.get(path)
        if attr is not None:
            return _condition(attr, node, path)
        if isinstance(node, Present) and path in self.resource.complex_present:
            return _any(_condition(self.resource.simple[p], node, p) for p in self.resource.complex_present[path])
        head, _, sub = path.partition(".")
        multi = self.resource.multi.get(head)
        if multi is None:
            raise ScimFilterError(f"Cannot filter on unknown attribute {node.path!r}.")
        if isinstance(node, Present) and not sub:  # `emails pr`: has any element at all
            return Q(self._exists(multi, EVERYTHING))
        sub = sub or multi.default_sub  # `emails eq "x"` means `emails.value eq "x"`
        sub_attr = multi.subs.get(sub)
        if sub_attr is None:
            raise ScimFilterError(f"Cannot filter on unknown attribute {node.path!r}.")
        if isinstance(node, Compare) and node.value is None:
            present = Q(self._exists(multi, _condition(sub_attr, Present(sub), path)))
            return _null_compare(node, present, path)
        if isinstance(node, Compare) and node.op == "ne":
            # No element equals the value (the negation of `eq`), not "some element differs".
            return ~Q(self._exists(multi, _condition(sub_attr, Compare(sub, "eq", node.value), path)))
        return Q(self._exists(multi, _condition(sub_attr, _with_path(node, sub), path)))

    def value_path(self, node: ValuePath) -> Q:
        head = _strip_urn(self.resource, node.attr)
        multi = self.resource.multi.get(head)
        if multi is None:
            raise ScimFilterError(f"Cannot filter on unknown multi-valued attribute {node.attr!r}.")
        element = _Translator(Resource(urn=f"{head}.", simple=multi.subs)).node(node.inner)
        if node.tail is not None:
            sub_attr = multi.subs.get(node.tail.path)
            if sub_attr is None:
                raise ScimFilterError(f"Cannot filter on unknown attribute '{node.attr}.{node.tail.path}'.")
            element &= _condition(sub_attr, node.tail, f"{head}.{node.tail.path}")
        return Q(self._exists(multi, element))

    @staticmethod
    def _exists(multi: MultiValued, condition: Q) -> Exists:
        return Exists(multi.model.objects.filter(condition, **{multi.fk: OuterRef("pk")}))


def _any(qs: Any) -> Q:
    return reduce(operator.or_, qs)


def _with_path(node: Compare | Present, path: str) -> Compare | Present:
    return Compare(path, node.op, node.value) if isinstance(node, Compare) else Present(path)


def _null_compare(node: Compare, present: Q, name: str) -> Q:
    if node.op == "eq":
        return ~present
    if node.op == "ne":
        return present
    raise ScimFilterError(f"Operator {node.op!r} cannot compare {name!r} with null.")


def _condition(attr: Attr, node: Compare | Present, name: str) -> Q:
    """The Q for one single-valued attribute (of the resource or of one element)."""
    if isinstance(node, Present):
        if attr.kind == STRING:
            return ~Q(Exact(attr.expr(), Value("")))
        if attr.column:
            return Q(**{f"{attr.column}__isnull": False})
        return EVERYTHING
    if node.value is None:
        return _null_compare(node, _condition(attr, Present(node.path), name), name)
    handler: Callable[[Attr, str, Any, str], Q] = _HANDLERS[attr.kind]
    return handler(attr, node.op, node.value, name)


def _unsupported(op: str, name: str, kind: str) -> ScimFilterError:
    return ScimFilterError(f"Operator {op!r} is not supported for {name!r} ({kind}).")


def _string(attr: Attr, op: str, value: Any, name: str) -> Q:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ScimFilterError(f"{name!r} is a string; cannot compare it with {value!r}.")
    value = str(value)
    column = attr.expr()
    if attr.case_exact:
        if op in ("eq", "ne"):
            q = Q(Exact(column, Value(value)))
            if attr.lower_indexed:  # same result, but lets the database use the Lower() index
                q = Q(Exact(Lower(column), Lower(Value(value)))) & q
            return q if op == "eq" else ~q
        # Django's contains/startswith are case-insensitive on SQLite (LIKE): compare exactly instead.
        if op == "co":
            return Q(GreaterThan(StrIndex(column, Value(value)), 0)) if value else EVERYTHING
        if op == "sw":
            return Q(Exact(Substr(column, 1, len(value)), Value(value))) if value else EVERYTHING
        if op == "ew":
            if not value:
                return EVERYTHING
            start = Length(column) - len(value) + 1
            return Q(GreaterThan(start, 0), Exact(Substr(column, start, len(value)), Value(value)))
        return Q(ORDER_OPS[op](BinaryCollate(column), Value(value)))
    if op in ("eq", "ne"):
        # LOWER(column) = LOWER(value): the expression the Lower(...) indexes hold.
        q = Q(Exact(Lower(column), Lower(Value(value))))
        return q if op == "eq" else ~q
    if op in ("co", "sw", "ew"):
        lookup = {"co": IContains, "sw": IStartsWith, "ew": IEndsWith}[op]
        return Q(lookup(column, value))
    return Q(ORDER_OPS[op](BinaryCollate(Lower(column)), BinaryCollate(Lower(Value(value)))))


def _boolean(attr: Attr, op: str, value: Any, name: str) -> Q:
    if op not in ("eq", "ne"):
        raise _unsupported(op, name, "boolean")
    parsed = parse_bool(value)  # Entra sends booleans as strings ("False")
    if parsed is None:
        raise ScimFilterError(f"{name!r} is a boolean; cannot compare it with {value!r}.")
    q = Q(**{attr.column: parsed})
    return q if op == "eq" else ~q


def _datetime(attr: Attr, op: str, value: Any, name: str) -> Q:
    if op in ("co", "sw", "ew"):
        raise _unsupported(op, name, "dateTime")
    moment = _parse_moment(value, name)
    q = Q(**{attr.column if op in ("eq", "ne") else f"{attr.column}__{ORDER_LOOKUPS[op]}": moment})
    return ~q if op == "ne" else q


def _parse_moment(value: Any, name: str) -> datetime:
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
            if parsed is None and (day := parse_date(value.strip())) is not None:
                parsed = datetime.combine(day, time.min)
        except ValueError:
            parsed = None
    if parsed is None:
        raise ScimFilterError(f"{name!r} is a dateTime; {value!r} is not an ISO 8601 date and time.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt_timezone.utc)
    return parsed


def _identifier(attr: Attr, op: str, value: Any, name: str) -> Q:
    if op not in ("eq", "ne"):
        raise _unsupported(op, name, "id")
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    # Ids are our integer pks; anything else (Okta's connector test sends a random GUID) matches nothing.
    q = Q(**{attr.column: int(text)}) if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID else NOTHING
    return q if op == "eq" else ~q


def _reference(attr: Attr, op: str, value: Any, name: str) -> Q:
    """A `$ref` is the URL of a resource of this org, `<base>/<id>`: compared by its id."""
    if op not in ("eq", "ne"):
        raise _unsupported(op, name, "reference")
    text = value.rstrip("/").rpartition("/")[2] if isinstance(value, str) else ""
    return _identifier(attr, op, text, name)


_HANDLERS: dict[str, Callable[[Attr, str, Any, str], Q]] = {
    STRING: _string,
    BOOLEAN: _boolean,
    DATETIME: _datetime,
    ID: _identifier,
    REFERENCE: _reference,
}
