"""Hypothesis strategies for hostile SCIM input: JSON of the wrong shape, huge and
odd strings (NUL, lone surrogates, SQL), deep nesting, filter soup, PATCH
operations with bad ops and paths, member ids of nobody or of another org."""
from __future__ import annotations

import json

from hypothesis import strategies as st

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

NASTY_STRINGS = [
    "", " ", "\t\n", "\x00", "a\x00b", "\ud800", "\udfff x", "'; DROP TABLE organizations_membership; --",
    '" or 1=1 --', "%s%s%n", "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd", "é" * 300,
    "x" * 10_000, "😀" * 100, "\u202e", "null", "true", "False", "-1", "0", "1e309", "NaN",
    "a@b", "@", "a@b.c", "UPPER@EXAMPLE.COM", " spaced@example.com ",
]
HUGE_INTS = [0, -1, 1, 2**31, 2**63, 2**64 + 1, -(2**63) - 1, 10**30]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(NASTY_STRINGS),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=16,
)
strings = st.one_of(
    st.text(max_size=60),
    st.sampled_from(NASTY_STRINGS),
    st.text(min_size=1, max_size=20).map(lambda t: t + "\x00" + t),  # NUL inside an otherwise fine value
)
emails = st.one_of(
    st.emails().map(lambda e: e[:200]),
    # look like e-mails (so they get past validation) but carry what no database stores
    st.emails().map(lambda e: e.replace("@", "\x00@", 1)),
    st.emails().map(lambda e: e.replace("@", "\ud800@", 1)),
    strings,
)


def maybe(strategy):
    """Sometimes the right type, sometimes anything."""
    return st.one_of(strategy, json_values)


def user_body(member_ids: st.SearchStrategy) -> st.SearchStrategy:
    email_item = st.fixed_dictionaries(
        {}, optional={"value": maybe(emails), "type": maybe(st.sampled_from(["work", "home", ""])),
                      "primary": maybe(st.sampled_from([True, False, "True", "false", "yes"])), "display": maybe(strings)},
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "schemas": maybe(st.just([USER_SCHEMA])),
            "userName": maybe(emails),
            "USERNAME": maybe(emails),
            "externalId": maybe(strings),
            "displayName": maybe(strings),
            "name": maybe(st.fixed_dictionaries({}, optional={"givenName": maybe(strings), "familyName": maybe(strings)})),
            "emails": maybe(st.lists(maybe(email_item), max_size=4)),
            "active": maybe(st.sampled_from([True, False, "True", "False", "TRUE", "no", 1, 0])),
            "groups": maybe(st.lists(st.fixed_dictionaries({"value": maybe(member_ids)}), max_size=3)),
            "id": maybe(member_ids),
            "meta": json_values,
            ENTERPRISE: maybe(st.dictionaries(st.sampled_from(["department", "manager", "employeeNumber"]), json_values)),
        },
    )


def member_list(member_ids: st.SearchStrategy) -> st.SearchStrategy:
    return maybe(st.lists(maybe(st.fixed_dictionaries({"value": maybe(member_ids)}, optional={"display": strings})), max_size=5))


def group_body(member_ids: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {},
        optional={
            "schemas": maybe(st.just([GROUP_SCHEMA])),
            "displayName": maybe(strings),
            "externalId": maybe(strings),
            "members": member_list(member_ids),
            "id": json_values,
        },
    )


PATCH_PATHS = [
    None, "", "members", 'members[value eq "1"]', "members[value eq 1]", 'members[display eq "x"]', "members[",
    "members]", "members[value eq \"1\"].display", "displayName", "externalId", "id", "userName", "active",
    "name", "name.givenName", "name.familyName", "name.", ".name", "emails", 'emails[type eq "work"].value',
    'emails[type eq "work"', "emails[primary eq true]", "emails[value co \"x\"]", "addresses[type eq \"work\"].street",
    f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}", "urn:unknown:ext:attr",
    f"{USER_SCHEMA}:userName", "groups", "meta.lastModified", "schemas", "a" * 5000, "members[value eq \"\\\"]",
    "x.y.z", "1abc", "$ref", "members[value eq \"1\" or value eq \"2\"]",
]
OPS = ["add", "remove", "replace", "Add", "Remove", "Replace", "REPLACE", "move", "copy", "test", "", "delete"]


def patch_operation(member_ids: st.SearchStrategy) -> st.SearchStrategy:
    return maybe(
        st.fixed_dictionaries(
            {"op": maybe(st.sampled_from(OPS))},
            optional={
                "path": st.one_of(st.sampled_from(PATCH_PATHS), strings, json_values),
                "value": st.one_of(json_values, member_list(member_ids), user_body(member_ids)),
            },
        )
    )


def patch_body(member_ids: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {},
        optional={
            "schemas": maybe(st.just([PATCH_SCHEMA])),
            "Operations": maybe(st.lists(patch_operation(member_ids), max_size=5)),
            "operations": maybe(st.lists(patch_operation(member_ids), max_size=2)),
        },
    )


FILTER_TOKENS = [
    "userName", "displayName", "externalId", "id", "active", "emails", "emails.value", "emails[", "]", "name.givenName",
    "meta.created", "meta.lastModified", "members", "members.value", "title", "urn:x:y", f"{ENTERPRISE}:department",
    "eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le", "EQ", "and", "or", "not", "AND", "(", ")", "[",
    '"x"', '"', "\"a\\\"b\"", "true", "false", "null", "1", "-1", "1e99", '"2024-01-01T00:00:00Z"', '"not-a-date"',
    "'single'", ";", "--", "%", "_", "*", "\x00", '"a\x00b"', '"\\u0000"', '"\\ud800"',
]
filters = st.one_of(
    st.lists(st.sampled_from(FILTER_TOKENS), min_size=1, max_size=14).map(" ".join),
    strings,
    st.integers(1, 400).map(lambda n: "(" * n + 'userName eq "x"' + ")" * n),
    st.integers(1, 300).map(lambda n: " or ".join(['userName eq "x"'] * n)),
    st.integers(1, 200).map(lambda n: "not (" * n + "userName pr" + ")" * n),
)
list_params = st.fixed_dictionaries(
    {},
    optional={
        "filter": filters,
        "startIndex": st.one_of(st.sampled_from(["0", "-5", "1", "1e3", "x", "99999999999999999999", ""]), strings),
        "count": st.one_of(st.sampled_from(["0", "-1", "100000", "1.5", "abc", "9" * 30]), strings),
        "sortBy": st.one_of(st.sampled_from(["userName", "meta.created", "emails.value", "nope", "name.familyName", ""]), strings),
        "sortOrder": st.one_of(st.sampled_from(["ascending", "descending", "up", ""]), strings),
        "attributes": st.one_of(st.sampled_from(["userName", "emails.value,name", "members", "", ",,,", "urn:x:y"]), strings),
        "excludedAttributes": st.one_of(st.sampled_from(["groups", "members", "meta"]), strings),
    },
).filter(lambda params: all(_url_safe(v) for v in params.values()))


def _url_safe(value: str) -> bool:
    """A query string cannot carry a lone surrogate (it is not UTF-8); bodies can."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def search_body() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {},
        optional={
            "schemas": maybe(st.sampled_from([[SEARCH_SCHEMA], [], ["urn:wrong"]])),
            "filter": maybe(filters),
            "startIndex": json_values,
            "count": json_values,
            "sortBy": json_values,
            "sortOrder": json_values,
            "attributes": json_values,
            "excludedAttributes": json_values,
        },
    )


def deep(n: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * n + b"]" * n
    if kind == "object":
        return b'{"a":' * n + b"1" + b"}" * n
    return b'{"Operations":' + b"[" * n + b"]" * n + b"}"


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"", b"null", b"[]", b"1", b'"str"', b"{", b"}", b'{"a":}', b"\xff\xfe\x00", b"\xef\xbb\xbf{}", b"NaN",
         b'{"userName": NaN}', b'{"userName": Infinity}', b'{"a": 1, "a": 2}', b"{}" * 1000,
         b'{"userName": "x\\ud800@example.com"}', b'{"displayName": "\\u0000"}']
    ),
    st.tuples(st.integers(10, 200_000), st.sampled_from(["list", "object", "ops"])).map(lambda t: deep(*t)),
)
content_types = st.one_of(
    st.just("application/scim+json"),
    st.sampled_from(["application/json", "application/scim+json; charset=utf-8", "text/plain",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/xml"]),
)


def dumps(doc) -> bytes:
    return json.dumps(doc).encode()
