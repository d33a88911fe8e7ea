"""SCIM filters (RFC 7644 §3.4.2.2) and sortBy translated to ORM queries, scoped by org.

Each table row is a filter and the labels of the org-A rows it must return; the caller's
org scope is applied exactly as the SCIM views do it."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from organizations.models import Membership, MembershipEmail
from scim.api.filter_parser import Compare, Logical, Not, ValuePath, parse
from scim.api.filters import (
    ScimFilterError,
    apply_sort_order,
    group_filter_q,
    group_sort_key,
    user_filter_q,
    user_sort_key,
)
from scim.models import ScimGroup, ScimGroupMember
from tests import builders

USERS_A = {"owner", "jane", "bob", "ann"}
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def _profile(membership: Membership, *, created: str, emails: list[tuple[str, str, bool]], **fields) -> Membership:
    Membership.objects.filter(pk=membership.pk).update(created_at=_at(created), updated_at=_at(created), **fields)
    MembershipEmail.objects.filter(membership=membership).delete()
    for value, type_, primary in emails:
        MembershipEmail.objects.create(membership=membership, value=value, type=type_, primary=primary)
    return membership


@pytest.fixture
def data(db):
    """Org A: owner, jane, bob (inactive), ann (bare profile); org B: its owner, a second Jane
    with the same userName, externalId and e-mail as org A's Jane."""
    org_a = builders.make_org("Acme", owner_email="olive@acme.example")
    org_b = builders.make_org("Globex", owner_email="jane.doe@acme.example")
    users = {
        "owner": _profile(
            builders.owner_of(org_a), created="2023-01-01", emails=[("olive@acme.example", "home", False)],
            scim_username="owner@acme.example", scim_external_id="OWN-1", display_name="Olive Owner",
            given_name="Olive", family_name="Owner",
        ),
        "jane": _profile(
            builders.make_member(org_a, "jane@acme.example"), created="2024-01-10",
            emails=[("jane@acme.example", "work", True), ("jane@home.example", "home", False)],
            scim_username="Jane.Doe@Acme.example", scim_external_id="EXT-Jane", display_name="Jane Doe",
            given_name="Jane", family_name="Doe",
            scim_extra={
                USER_URN: {"name": {"middleName": "Quinn"}},
                ENTERPRISE: {"department": "Sales", "employeeNumber": "701", "manager": {"value": "42"}},
            },
        ),
        "bob": _profile(
            builders.make_member(org_a, "bob@acme.example"), created="2024-06-01",
            emails=[("bob@acme.example", "Work", True)],
            scim_username="bob@acme.example", scim_external_id="0a1b-c2d3", display_name="Bob Stone",
            given_name="Bob", family_name="Stone", active=False,
            scim_extra={ENTERPRISE: {"department": "Engineering"}},
        ),
        "ann": _profile(
            builders.make_member(org_a, "ann@acme.example"), created="2025-01-01", emails=[],
            scim_username="ann", scim_external_id="", display_name="", given_name="", family_name="",
        ),
        "b_owner": _profile(builders.owner_of(org_b), created="2023-01-01", emails=[], scim_username="boss@globex"),
        "b_jane": _profile(
            builders.make_member(org_b, "jane2@acme.example"), created="2024-01-10",
            emails=[("jane@acme.example", "work", True)],
            scim_username="jane.doe@acme.example", scim_external_id="EXT-Jane", display_name="Jane Doe",
        ),
    }
    eng = ScimGroup.objects.create(organization=org_a, display_name="Engineering", external_id="g-eng")
    sales = ScimGroup.objects.create(organization=org_a, display_name="Sales")
    b_eng = ScimGroup.objects.create(organization=org_b, display_name="Engineering", external_id="g-eng")
    for group, member in [(eng, "jane"), (eng, "bob"), (b_eng, "b_jane")]:
        ScimGroupMember.objects.create(group=group, membership=users[member])
    ScimGroup.objects.filter(pk=eng.pk).update(created_at=_at("2024-01-01"))
    ScimGroup.objects.filter(pk=sales.pk).update(created_at=_at("2024-02-01"))
    groups = {"eng": eng, "sales": sales, "b_eng": b_eng}
    return {
        "org_a": org_a,
        "org_b": org_b,
        "users": {label: obj.pk for label, obj in users.items()},
        "groups": {label: obj.pk for label, obj in groups.items()},
    }


def _labels(rows, ids: dict[str, int]) -> list[str]:
    by_pk = {pk: label for label, pk in ids.items()}
    return [by_pk[row.pk] for row in rows]


def user_rows(data, filter_string: str, org_key: str = "org_a") -> list[str]:
    """Labels returned for org A, checking that no row comes back twice."""
    filter_string = filter_string.format(**data["users"], **data["groups"])
    qs = Membership.objects.filter(organization=data[org_key]).filter(user_filter_q(filter_string))
    labels = _labels(qs, data["users"])
    assert len(labels) == len(set(labels)), f"duplicate rows for {filter_string!r}: {labels}"
    return labels


def group_rows(data, filter_string: str, org_key: str = "org_a") -> list[str]:
    filter_string = filter_string.format(**data["users"], **data["groups"])
    qs = ScimGroup.objects.filter(organization=data[org_key]).filter(group_filter_q(filter_string))
    labels = _labels(qs, data["groups"])
    assert len(labels) == len(set(labels)), f"duplicate rows for {filter_string!r}: {labels}"
    return labels


USER_CASES = [
    # eq: case-insensitive where caseExact is false, exact for externalId; quoted and bare values
    ('userName eq "jane.doe@acme.example"', {"jane"}),
    ('USERNAME Eq "JANE.DOE@ACME.EXAMPLE"', {"jane"}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@acme.example"', {"bob"}),
    ('externalId eq "EXT-Jane"', {"jane"}),
    ('externalId eq "ext-jane"', set()),
    ("externalId eq 0a1b-c2d3", {"bob"}),  # Entra's unquoted value
    ('displayName eq "jane doe"', {"jane"}),
    ('name.givenName eq "BOB"', {"bob"}),
    ('name.familyName eq "doe"', {"jane"}),
    ('emails eq "JANE@acme.example"', {"jane"}),
    ('emails.value eq "jane@home.example"', {"jane"}),
    ('emails.type eq "work"', {"jane", "bob"}),
    ("emails.primary eq true", {"jane", "bob"}),
    ("emails.primary eq false", {"owner", "jane"}),
    ("active eq true", {"owner", "jane", "ann"}),
    ("active eq false", {"bob"}),
    ('active eq "False"', {"bob"}),  # Entra sends booleans as strings
    ('active eq "TRUE"', {"owner", "jane", "ann"}),
    ('id eq "{jane}"', {"jane"}),
    # every attribute /Schemas publishes: the rest of name, the enterprise extension, groups
    ("name.middleName pr", {"jane"}),
    ('name.middleName eq "QUINN"', {"jane"}),
    ('name.middleName ne "Quinn"', {"owner", "bob", "ann"}),
    ("name.honorificPrefix pr", set()),  # never set: matches nothing
    ('name.formatted eq "x"', set()),
    ("name pr", {"owner", "jane", "bob"}),
    (f'{ENTERPRISE}:department eq "Sales"', {"jane"}),
    (f'{ENTERPRISE.upper()}:DEPARTMENT eq "sales"', {"jane"}),
    (f'{ENTERPRISE}:department sw "eng"', {"bob"}),
    (f"{ENTERPRISE}:department pr", {"jane", "bob"}),
    (f'{ENTERPRISE}:employeeNumber eq "701"', {"jane"}),
    (f"{ENTERPRISE}:costCenter pr", set()),
    (f'{ENTERPRISE}:manager.value eq "42"', {"jane"}),
    (f"{ENTERPRISE}:manager pr", {"jane"}),
    (f"{ENTERPRISE}:manager.displayName pr", set()),
    ('groups.value eq "{eng}"', {"jane", "bob"}),
    ('groups eq "{eng}"', {"jane", "bob"}),
    ('groups[display eq "engineering"]', {"jane", "bob"}),
    ('groups.type eq "direct"', {"jane", "bob"}),
    ("groups pr", {"jane", "bob"}),
    ('groups.$ref eq "https://x.example/scim/v2/organizations/o/Groups/{eng}"', {"jane", "bob"}),
    ('groups.value eq "{b_eng}"', set()),
    ("id eq {bob}", {"bob"}),
    ('id eq "{b_jane}"', set()),  # another org's id
    ('id eq "2819c223-7f76-453a-919d-413861904646"', set()),  # Okta's connector test
    ('id eq "99999999999999999999999"', set()),
    ('meta.created eq "2024-01-10T00:00:00Z"', {"jane"}),
    # ne is the negation of eq, also for multi-valued attributes
    ('userName ne "JANE.DOE@acme.example"', {"owner", "bob", "ann"}),
    ('externalId ne "EXT-Jane"', {"owner", "bob", "ann"}),
    ("active ne true", {"bob"}),
    ('emails.value ne "jane@acme.example"', {"owner", "bob", "ann"}),
    ('emails.type ne "work"', {"owner", "ann"}),
    ('id ne "{jane}"', {"owner", "bob", "ann"}),
    ('id ne "abc"', USERS_A),
    # co / sw / ew
    ('userName co "ACME"', {"owner", "jane", "bob"}),
    ('userName sw "J"', {"jane"}),
    ('userName ew ".EXAMPLE"', {"owner", "jane", "bob"}),
    ('userName co "%"', set()),
    ('userName co "_"', set()),
    ('displayName co "o"', {"owner", "jane", "bob"}),
    ('externalId co "Jane"', {"jane"}),
    ('externalId co "jane"', set()),  # caseExact, on SQLite too
    ('externalId sw "EXT"', {"jane"}),
    ('externalId sw "ext"', set()),
    ('externalId ew "c2d3"', {"bob"}),
    ('externalId ew "C2D3"', set()),
    ('externalId ew "a-very-long-suffix-0a1b-c2d3"', set()),
    ('emails.value ew "@HOME.example"', {"jane"}),
    ('emails co "acme"', {"owner", "jane", "bob"}),
    # gt / ge / lt / le on strings (case-insensitive unless caseExact, byte order) and dates
    ('userName gt "Bob@acme.example"', {"jane", "owner"}),
    ('userName ge "BOB@acme.example"', {"bob", "jane", "owner"}),
    ('userName lt "b"', {"ann"}),
    ('userName le "ANN"', {"ann"}),
    ('externalId gt "EXT"', {"jane", "owner"}),
    ('externalId gt "a"', set()),
    ('meta.created gt "2024-01-10T00:00:00Z"', {"bob", "ann"}),
    ('meta.created ge "2024-01-10T00:00:00Z"', {"jane", "bob", "ann"}),
    ('meta.created lt "2024-06-01"', {"owner", "jane"}),
    ('meta.created gt "2024-01-10T01:00:00+02:00"', {"jane", "bob", "ann"}),
    ('meta.lastModified le "2024-06-01T00:00:00+00:00"', {"owner", "jane", "bob"}),
    # pr and null
    ("externalId pr", {"owner", "jane", "bob"}),
    ("displayName pr", {"owner", "jane", "bob"}),
    ("emails pr", {"owner", "jane", "bob"}),
    ("emails.primary pr", {"owner", "jane", "bob"}),
    ("name pr", {"owner", "jane", "bob"}),
    ("id pr", USERS_A),
    ("active pr", USERS_A),
    ("meta.created pr", USERS_A),
    ("externalId eq null", {"ann"}),
    ("externalId ne null", {"owner", "jane", "bob"}),
    ("emails eq null", {"ann"}),
    # precedence: not > and > or
    ('active eq true or userName eq "bob@acme.example" and active eq false', USERS_A),
    ('userName eq "bob@acme.example" and active eq false or userName eq "ann"', {"bob", "ann"}),
    ('userName eq "ann" or userName eq "bob@acme.example" and active eq true or userName sw "jane"', {"ann", "jane"}),
    ('not (active eq true) and userName eq "ann"', set()),
    ('not (userName eq "ann") or userName eq "ann"', USERS_A),
    ('not userName eq "ann"', {"owner", "jane", "bob"}),
    ('not (not (userName eq "ann"))', {"ann"}),
    # grouping
    ('((userName eq "ann"))', {"ann"}),
    ('(active eq true or userName eq "bob@acme.example") and active eq false', {"bob"}),
    ('(userName eq "ann" or userName eq "bob@acme.example") and (active eq false)', {"bob"}),
    # multi-valued not: no element matches
    ('not (emails.value eq "jane@acme.example")', {"owner", "bob", "ann"}),
    ('not (emails[type eq "work"])', {"owner", "ann"}),
    # value paths: conditions apply to one and the same element
    ('emails[type eq "work"].value eq "jane@acme.example"', {"jane"}),
    ('emails[type eq "work"].value eq "jane@home.example"', set()),
    ('emails[type eq "home" and value co "@acme"]', {"owner"}),
    ('emails[type eq "home"]', {"owner", "jane"}),
    ('emails[not (type eq "work")]', {"owner", "jane"}),
    ('emails[primary eq true and type eq "WORK"]', {"jane", "bob"}),
    ('emails[type eq "work"].value pr', {"jane", "bob"}),
    ('emails[value sw "JANE"] and active eq true', {"jane"}),
    ('EMAILS[TYPE eq "work"].VALUE eq "BOB@acme.example"', {"bob"}),
    # an `or` never escapes the caller's org scope
    ("id pr or userName pr", USERS_A),
    ('userName eq "jane.doe@acme.example" or externalId eq "EXT-Jane" or id eq "{b_jane}"', {"jane"}),
]


@pytest.mark.parametrize(("filter_string", "expected"), USER_CASES)
def test_user_filter_returns_matching_members_of_the_scoped_org(data, filter_string, expected):
    assert set(user_rows(data, filter_string)) == expected


def test_the_same_filter_in_the_other_org_returns_only_that_orgs_rows(data):
    rows = user_rows(data, 'userName eq "jane.doe@acme.example" or id pr or id eq "{jane}"', org_key="org_b")
    assert set(rows) == {"b_owner", "b_jane"}


GROUP_CASES = [
    ('displayName eq "engineering"', {"eng"}),
    ('DISPLAYNAME eq "ENGINEERING"', {"eng"}),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Sales"', {"sales"}),
    ('displayName co "ALE"', {"sales"}),
    ('displayName sw "eng"', {"eng"}),
    ('displayName ew "S"', {"sales"}),
    ('displayName gt "F"', {"sales"}),
    ('displayName ne "sales"', {"eng"}),
    ('externalId eq "g-eng"', {"eng"}),
    ('externalId eq "G-ENG"', set()),
    ("externalId pr", {"eng"}),
    ('members[value eq "{jane}"]', {"eng"}),
    ('members.value eq "{bob}"', {"eng"}),
    ("members eq {bob}", {"eng"}),
    ('members eq "{ann}"', set()),
    ('members[value eq "{b_jane}"]', set()),
    ('members.value eq "not-an-id"', set()),
    ('members.value ne "{jane}"', {"sales"}),
    ("members pr", {"eng"}),
    ('members.type eq "user"', {"eng"}),
    ('members.$ref eq "https://x.example/Users/{jane}"', {"eng"}),
    ("not (members pr)", {"sales"}),
    ('id eq "{eng}"', {"eng"}),
    ('id eq "{b_eng}"', set()),
    ('id eq "zzz"', set()),
    ('meta.created gt "2024-01-15T00:00:00Z"', {"sales"}),
    ('meta.lastModified pr and displayName eq "sales"', {"sales"}),
    ('displayName eq "Engineering" or id pr', {"eng", "sales"}),
    ('displayName eq "sales" or displayName eq "engineering" and members pr', {"sales", "eng"}),
]


@pytest.mark.parametrize(("filter_string", "expected"), GROUP_CASES)
def test_group_filter_returns_matching_groups_of_the_scoped_org(data, filter_string, expected):
    assert set(group_rows(data, filter_string)) == expected


def test_group_member_filter_never_duplicates_groups(data):
    assert group_rows(data, 'members pr or members.value eq "{jane}" or members.value eq "{bob}"') == ["eng"]


ERROR_CASES = [
    ("", "empty"),
    ("   ", "empty"),
    ('title eq "x"', "unknown attribute 'title'"),
    ('emails.foo eq "x"', "unknown attribute"),
    ('name eq "x"', "unknown attribute"),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"', "unknown attribute"),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize eq "1"', "unknown attribute"),
    ("userName eq 'ann'", "double quotes"),
    ("userName eq 'a b'", "double quotes"),
    ("userName eq ann", "Expected a value"),
    ('name.nickName pr', "unknown attribute"),
    ('groups.value gt "1"', "not supported"),
    ('emails[type eq "work"].bogus eq "x"', "unknown attribute"),
    ('phoneNumbers[value eq "1"]', "unknown multi-valued attribute"),
    ('userName xx "a"', "Expected an operator"),
    ('userName "a"', "Expected an operator"),
    ("userName eq", "Expected a value"),
    ("userName eq )", "Expected a value"),
    ('(userName eq "a"', "Expected ')'"),
    ('userName eq "a")', "Unexpected ')'"),
    ('userName eq "a" userName eq "b"', "Unexpected 'userName'"),
    ('userName eq "a', "Unterminated string"),
    ('userName eq "\\q"', "Invalid string"),
    ('emails[type eq "work"', "Expected ']'"),
    ('emails[type eq "work"]]', "Unexpected ']'"),
    ('emails[type[value eq "x"]]', "cannot be nested"),
    ("and", "Expected an attribute name"),
    ('userName eq "a" and', "Expected an attribute name"),
    ('userName eq "a" or or userName eq "b"', "Expected an attribute name"),
    ("not", "Expected an attribute name"),
    ("()", "Expected an attribute name"),
    ("active gt true", "not supported"),
    ('active co "t"', "not supported"),
    ('active eq "yes"', "boolean"),
    ("emails.primary eq 1", "boolean"),
    ('meta.created gt "yesterday"', "ISO 8601"),
    ('meta.created eq "2024-13-45T00:00:00Z"', "ISO 8601"),
    ('meta.created co "2024"', "not supported"),
    ("userName eq true", "string"),
    ("userName gt null", "null"),
    ('id gt "3"', "not supported"),
    ("x" * 4001, "longer than"),
    ("(" * 60 + 'userName eq "a"' + ")" * 60, "nests deeper"),
    ("not " * 60 + 'userName eq "a"', "nests deeper"),
]


@pytest.mark.parametrize(("filter_string", "message"), ERROR_CASES)
def test_invalid_user_filter_is_a_filter_error_with_a_useful_message(filter_string, message):
    with pytest.raises(ScimFilterError, match=None) as excinfo:
        user_filter_q(filter_string)
    assert message.lower() in str(excinfo.value).lower()


@pytest.mark.parametrize(
    "filter_string",
    ['members.display eq "x"', 'userName eq "x"', 'emails[type eq "work"]', 'members[display eq "x"]'],
)
def test_user_only_attributes_are_unknown_on_groups(filter_string):
    with pytest.raises(ScimFilterError, match="unknown"):
        group_filter_q(filter_string)


def test_nesting_up_to_the_limit_is_accepted(data):
    assert user_rows(data, "(" * 49 + 'userName eq "ann"' + ")" * 49) == ["ann"]


@pytest.mark.parametrize("term", ["id pr", 'emails[type eq "work"]', "userName pr and not (active eq false)"])
def test_longest_allowed_filter_runs_on_the_database(data, term):
    filter_string = " or ".join([term] * (4000 // (len(term) + 4)))
    assert len(filter_string) <= 4000
    assert set(user_rows(data, filter_string)) <= USERS_A


def test_parser_gives_and_precedence_over_or_and_not_over_and():
    tree = parse('a eq 1 or b eq 2 and not (c eq 3)')
    assert tree == Logical(
        "or", Compare("a", "eq", 1), Logical("and", Compare("b", "eq", 2), Not(Compare("c", "eq", 3)))
    )


def test_parser_decodes_json_literals_and_bare_words():
    assert parse(r'displayName eq "a \"b\" \\ \u00e9"') == Compare("displayname", "eq", 'a "b" \\ é')
    assert parse("x eq -1.5e2").value == -150.0
    assert parse("x eq 42").value == 42
    assert parse("x eq false").value is False
    assert parse("x eq null").value is None
    assert parse("x eq 0a1B-c2d3").value == "0a1B-c2d3"  # Entra's unquoted object id
    assert parse('emails[type eq "work"].value eq "x"') == ValuePath(
        "emails", Compare("type", "eq", "work"), Compare("value", "eq", "x")
    )


# -- sorting --------------------------------------------------------------------------------


def _sorted_users(data, sort_by, descending=False):
    keys = apply_sort_order(user_sort_key(sort_by), descending)
    return _labels(Membership.objects.filter(organization=data["org_a"]).order_by(*keys), data["users"])


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        (None, ["owner", "jane", "bob", "ann"]),
        ("userName", ["ann", "bob", "jane", "owner"]),  # case-insensitive: "Jane.Doe@..." after "bob@..."
        ("urn:ietf:params:scim:schemas:core:2.0:User:USERNAME", ["ann", "bob", "jane", "owner"]),
        ("name.familyName", ["ann", "jane", "owner", "bob"]),
        ("externalId", ["ann", "bob", "jane", "owner"]),  # "", "0a1b...", "EXT-Jane", "OWN-1"
        ("meta.created", ["owner", "jane", "bob", "ann"]),
        ("meta.lastModified", ["owner", "jane", "bob", "ann"]),
        ("id", ["owner", "jane", "bob", "ann"]),
        ("active", ["bob", "owner", "jane", "ann"]),
        # multi-valued: by the primary (else first) element; none sorts as ""
        ("emails", ["ann", "bob", "jane", "owner"]),
        ("emails.type", ["ann", "owner", "jane", "bob"]),  # "", "home", "work", "Work" (ties by pk)
        ("name.middleName", ["owner", "bob", "ann", "jane"]),
        (f"{ENTERPRISE}:department", ["owner", "ann", "bob", "jane"]),
        ("groups.display", ["owner", "ann", "jane", "bob"]),
    ],
)
def test_users_sort_by_attribute_with_pk_tie_break(data, sort_by, expected):
    assert _sorted_users(data, sort_by) == expected
    assert _sorted_users(data, sort_by, descending=True) == expected[::-1]


def test_sort_ties_are_broken_by_pk_in_both_directions(data):
    Membership.objects.filter(organization=data["org_a"]).update(display_name="Same")
    assert _sorted_users(data, "displayName") == ["owner", "jane", "bob", "ann"]
    assert _sorted_users(data, "displayName", descending=True) == ["ann", "bob", "jane", "owner"]


def test_groups_sort_by_display_name(data):
    keys = group_sort_key("DisplayName")
    rows = ScimGroup.objects.filter(organization=data["org_a"]).order_by(*apply_sort_order(keys, True))
    assert _labels(rows, data["groups"]) == ["sales", "eng"]
    assert group_sort_key(None) == ["pk"]


@pytest.mark.parametrize("sort_by", ["bogus", "name", "emails.bogus", "members"])
def test_unknown_sort_attribute_is_a_filter_error(sort_by):
    with pytest.raises(ScimFilterError, match="sort"):
        user_sort_key(sort_by)


# -- robustness and index use ---------------------------------------------------------------


@hypothesis_settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_anything_but_a_filter_error(text):
    for translate in (user_filter_q, group_filter_q):
        try:
            translate(text)
        except ScimFilterError:
            pass


TOKENS = [
    "userName", "externalId", "displayName", "emails", "emails.value", "emails.type", "emails.primary", "active",
    "id", "meta.created", "name", "name.givenName", "members", "members.value", "title", "value", "type",
    "eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le", "and", "or", "not", "(", ")", "[", "]",
    "].value", '"x"', '"2024-01-01T00:00:00Z"', "true", "false", "null", "42", '"False"', "bare-value", '"',
]


@hypothesis_settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_token_soup_either_fails_cleanly_or_runs_on_the_database(data, tokens):
    text = " ".join(tokens)
    for translate, model in ((user_filter_q, Membership), (group_filter_q, ScimGroup)):
        try:
            q = translate(text)
        except ScimFilterError:
            continue
        model.objects.filter(organization=data["org_a"]).filter(q).count()


def test_username_lookup_uses_the_case_insensitive_index(data):
    """`userName eq` must compare the very expression the Lower(scim_username) index holds
    (Django's __iexact would not: UPPER on PostgreSQL, LIKE on SQLite)."""
    qs = Membership.objects.filter(organization=data["org_a"]).filter(user_filter_q('userName eq "ANN"'))
    sql, params = qs.query.sql_with_params()
    index = "membership_username_ci_unique_per_org"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # On a tiny table the planner may prefer the organization_id index, so check that
            # the condition is the index's own expression rather than which index won.
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
            assert "lower((scim_username)::text)" in cursor.fetchone()[0]
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert index in plan or "lower((scim_username)::text) = 'ann'::text" in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert index in plan, plan


# -- differential test: the database agrees with a plain-Python reading of the RFC ---------

_CI, _EXACT, _BOOL, _DATE = "ci", "exact", "bool", "date"
REFERENCE_ATTRS = {
    "userName": _CI, "displayName": _CI, "name.familyName": _CI, "externalId": _EXACT,
    "active": _BOOL, "meta.created": _DATE, "emails.value": _CI, "emails.type": _CI,
}
REFERENCE_USERS = {  # org A as the `data` fixture builds it
    "owner": {"userName": "owner@acme.example", "displayName": "Olive Owner", "name.familyName": "Owner",
              "externalId": "OWN-1", "active": True, "meta.created": "2023-01-01",
              "emails": [("olive@acme.example", "home")]},
    "jane": {"userName": "Jane.Doe@Acme.example", "displayName": "Jane Doe", "name.familyName": "Doe",
             "externalId": "EXT-Jane", "active": True, "meta.created": "2024-01-10",
             "emails": [("jane@acme.example", "work"), ("jane@home.example", "home")]},
    "bob": {"userName": "bob@acme.example", "displayName": "Bob Stone", "name.familyName": "Stone",
            "externalId": "0a1b-c2d3", "active": False, "meta.created": "2024-06-01",
            "emails": [("bob@acme.example", "Work")]},
    "ann": {"userName": "ann", "displayName": "", "name.familyName": "", "externalId": "",
            "active": True, "meta.created": "2025-01-01", "emails": []},
}
STRING_POOL = ["jane", "ACME", "acme.example", "ext", "EXT", "0a1b", "", "bob@acme.example", "work", "Home",
               "Owner", "o", "Jane.Doe@acme.example", "b", "z"]
DATE_POOL = ["2023-01-01T00:00:00Z", "2024-01-10T00:00:00Z", "2024-06-01T00:00:00Z", "2030-01-01T00:00:00Z"]
_STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]


def _compare(kind: str, actual, op: str, value) -> bool:
    if op == "pr":
        return actual != ""
    if kind == _DATE:
        actual, value = _at(actual), datetime.fromisoformat(value)
    elif kind == _CI:
        actual, value = actual.lower(), value.lower()
    if op in ("co", "sw", "ew"):
        return {"co": value in actual, "sw": actual.startswith(value), "ew": actual.endswith(value)}[op]
    return {
        "eq": actual == value, "ne": actual != value, "gt": actual > value, "ge": actual >= value,
        "lt": actual < value, "le": actual <= value,
    }[op]


def _evaluate(node, user: dict) -> bool:
    kind, *rest = node
    if kind == "and":
        return _evaluate(rest[0], user) and _evaluate(rest[1], user)
    if kind == "or":
        return _evaluate(rest[0], user) or _evaluate(rest[1], user)
    if kind == "not":
        return not _evaluate(rest[0], user)
    if kind == "work_email":  # emails[type eq "work"].value <op> <value>
        op, value = rest
        return any(t.lower() == "work" and _compare(_CI, v, op, value) for v, t in user["emails"])
    attr, op, value = rest
    if attr.startswith("emails."):
        position = 0 if attr == "emails.value" else 1
        if op == "ne":  # no element equals the value
            return not any(_compare(_CI, e[position], "eq", value) for e in user["emails"])
        return any(_compare(_CI, e[position], op, value) for e in user["emails"])
    return _compare(REFERENCE_ATTRS[attr], user[attr], op, value)


def _render(node, parent: int = 0) -> str:
    kind, *rest = node
    if kind in ("and", "or"):
        precedence = 2 if kind == "and" else 1
        text = f"{_render(rest[0], precedence)} {kind} {_render(rest[1], precedence)}"
        return f"({text})" if precedence < parent else text
    if kind == "not":
        return f"not ({_render(rest[0])})"
    if kind == "work_email":
        op, value = rest
        return f'emails[type eq "work"].value {op}' + ("" if op == "pr" else f" {json.dumps(value)}")
    attr, op, value = rest
    return f"{attr} {op}" + ("" if op == "pr" else f" {json.dumps(value)}")


def _leaf():
    def for_attr(attr: str):
        kind = REFERENCE_ATTRS[attr]
        if kind == _BOOL:
            return st.tuples(st.just("leaf"), st.just(attr), st.sampled_from(["eq", "ne"]), st.booleans())
        if kind == _DATE:
            ops = ["eq", "ne", "gt", "ge", "lt", "le"]
            return st.tuples(st.just("leaf"), st.just(attr), st.sampled_from(ops), st.sampled_from(DATE_POOL))
        ops = [op for op in _STRING_OPS if not (attr.startswith("emails.") and op == "pr")]
        return st.tuples(st.just("leaf"), st.just(attr), st.sampled_from(ops), st.sampled_from(STRING_POOL))

    work = st.tuples(st.just("work_email"), st.sampled_from(_STRING_OPS[:-1]), st.sampled_from(STRING_POOL))
    return st.one_of(st.sampled_from(sorted(REFERENCE_ATTRS)).flatmap(for_attr), work)


FILTER_TREES = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), children, children), st.tuples(st.just("not"), children)
    ),
    max_leaves=8,
)


@hypothesis_settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(FILTER_TREES)
def test_database_agrees_with_a_reference_evaluation_of_the_filter(data, tree):
    text = _render(tree)
    expected = {label for label, user in REFERENCE_USERS.items() if _evaluate(tree, user)}
    assert set(user_rows(data, text.replace("{", "{{").replace("}", "}}"))) == expected, text
