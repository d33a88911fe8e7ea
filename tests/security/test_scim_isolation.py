"""One org's SCIM token reaches nothing of another org: not with the other org's
URL, not with the other org's ids under its own URL (every method), not through
group members, `or` filters, attribute paths or .search."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.hardening.snapshot import diff, snapshot
from tests.scim.api.helpers import SEARCH_SCHEMA, ScimClient, new_user, patch_body

from .world import MARKER

pytestmark = pytest.mark.django_db

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def a_scim(world) -> ScimClient:
    return ScimClient(world.a.org, world.a.token, Client())


def assert_scim_error(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    doc = response.json()
    assert ERROR_SCHEMA in doc["schemas"] and doc["status"] == str(status) and doc["detail"]
    assert MARKER not in response.content.decode()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/Users"), ("GET", "/Groups"), ("GET", "/ServiceProviderConfig"), ("GET", "/Schemas"),
        ("POST", "/Users"), ("POST", "/Groups"), ("POST", "/Users/.search"), ("POST", "/Groups/.search"),
        ("GET", "/Users/{member}"), ("PUT", "/Users/{member}"), ("PATCH", "/Users/{member}"),
        ("DELETE", "/Users/{member}"), ("GET", "/Groups/{group}"), ("PUT", "/Groups/{group}"),
        ("PATCH", "/Groups/{group}"), ("DELETE", "/Groups/{group}"),
    ],
)
def test_a_token_on_b_url_is_401_for_every_endpoint(world, method, path):
    b = world.b
    intruder = ScimClient(b.org, world.a.token, Client())
    path = path.format(member=b.member.pk, group=b.group.pk)
    body = {
        "POST": new_user("intruder@example.com"),
        "PUT": new_user("intruder@example.com"),
        "PATCH": patch_body({"op": "replace", "value": {"active": False}}),
    }.get(method)
    before = snapshot()
    response = intruder.get(path) if method == "GET" else (
        intruder.delete(path) if method == "DELETE" else intruder.send(method, path, body)
    )
    assert_scim_error(response, 401)
    after = snapshot()
    assert after == before, diff(before, after)


def b_id_requests(b) -> list[tuple[str, str, object]]:
    m, g, o = b.member.pk, b.group.pk, b.owner.pk
    return [
        ("GET", f"/Users/{m}", None),
        ("GET", f"/Users/{o}", None),
        ("PUT", f"/Users/{m}", new_user("stolen@example.com")),
        ("PATCH", f"/Users/{m}", patch_body({"op": "replace", "value": {"active": False}})),
        ("PATCH", f"/Users/{m}", patch_body({"op": "replace", "path": "userName", "value": "stolen"})),
        ("DELETE", f"/Users/{m}", None),
        ("DELETE", f"/Users/{o}", None),
        ("GET", f"/Groups/{g}", None),
        ("PUT", f"/Groups/{g}", {"displayName": "pwned", "members": []}),
        ("PATCH", f"/Groups/{g}", patch_body({"op": "remove", "path": "members"})),
        ("PATCH", f"/Groups/{g}", patch_body({"op": "remove", "path": f'members[value eq "{m}"]'})),
        ("PATCH", f"/Groups/{g}", patch_body({"op": "replace", "path": "displayName", "value": "pwned"})),
        ("DELETE", f"/Groups/{g}", None),
        # the same ids padded, signed or suffixed, in case a parser is lenient
        ("GET", f"/Users/0{m}", None),
        ("GET", f"/Users/{m}.0", None),
        ("GET", f"/Users/+{m}", None),
        ("DELETE", f"/Groups/%20{g}", None),
    ]


def test_b_ids_under_a_url_are_404_for_every_method(world, a_scim):
    before = snapshot()
    for method, path, body in b_id_requests(world.b):
        if method == "GET":
            response = a_scim.get(path)
        elif method == "DELETE":
            response = a_scim.delete(path)
        else:
            response = a_scim.send(method, path, body)
        assert_scim_error(response, 404)
    after = snapshot()
    assert after == before, diff(before, after)


def test_b_members_cannot_be_put_into_a_groups(world, a_scim):
    b, a = world.b, world.a
    values = [{"value": str(b.member.pk)}, {"value": str(b.owner.pk)}]
    before = snapshot()
    responses = [
        a_scim.post("/Groups", {"displayName": "Alpha new", "members": values}),
        a_scim.put(f"/Groups/{a.group.pk}", {"displayName": a.group.display_name, "members": values}),
        a_scim.patch(f"/Groups/{a.group.pk}", patch_body({"op": "add", "path": "members", "value": values})),
        a_scim.patch(f"/Groups/{a.group.pk}", patch_body({"op": "replace", "path": "members", "value": values})),
        a_scim.patch(f"/Groups/{a.group.pk}", patch_body({"op": "add", "value": {"members": values}})),
        # a valid A member with a B one: the whole request is refused, not half-applied
        a_scim.patch(
            f"/Groups/{a.group.pk}",
            patch_body({"op": "add", "path": "members", "value": [{"value": str(a.admin.pk)}, values[0]]}),
        ),
    ]
    for response in responses:
        assert_scim_error(response, 400)
    after = snapshot()
    assert after == before, diff(before, after)


def test_removing_b_member_ids_from_a_group_touches_nothing_of_b(world, a_scim):
    b, a = world.b, world.a
    before = snapshot()
    response = a_scim.patch(
        f"/Groups/{a.group.pk}",
        patch_body({"op": "remove", "path": "members", "value": [{"value": str(b.member.pk)}]}),
    )
    assert response.status_code in (204, 400)
    after = snapshot()
    assert after == before, diff(before, after)


FILTERS = [
    'userName eq "bravo.member{m}@example.com"',
    'userName eq "nobody" or userName co "{m}"',
    'userName co "{m}" or id pr',
    'id eq "{member_id}" or userName sw "alpha"',
    'not (userName eq "nobody") or emails.value co "bravo"',
    'emails[value co "{m}"] or userName pr',
    '(userName pr) or (userName pr and active eq true)',
    'meta.lastModified gt "2000-01-01T00:00:00Z" or displayName co "{m}"',
    'externalId pr or not (externalId pr)',
]


@pytest.mark.parametrize("template", FILTERS)
def test_or_filters_and_search_never_return_b(world, a_scim, template):
    b = world.b
    f = template.format(m=MARKER, member_id=b.member.pk)
    own_ids = {str(pk) for pk in world.a.org.memberships.values_list("pk", flat=True)}
    for response in (
        a_scim.get("/Users", {"filter": f, "count": 1000}),
        a_scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], "filter": f, "count": 1000}),
    ):
        assert response.status_code in (200, 400), response.content[:300]
        assert MARKER not in response.content.decode()
        if response.status_code == 200:
            assert {r["id"] for r in response.json()["Resources"]} <= own_ids


@pytest.mark.parametrize(
    "template",
    ['displayName co "{m}" or displayName pr', 'id eq "{gid}" or id pr', 'members.value eq "{mid}" or displayName pr'],
)
def test_group_filters_never_return_b(world, a_scim, template):
    b = world.b
    f = template.format(m=MARKER, gid=b.group.pk, mid=b.member.pk)
    for response in (
        a_scim.get("/Groups", {"filter": f}),
        a_scim.post("/Groups/.search", {"schemas": [SEARCH_SCHEMA], "filter": f}),
    ):
        assert response.status_code in (200, 400)
        assert MARKER not in response.content.decode()
        if response.status_code == 200:
            assert {r["id"] for r in response.json()["Resources"]} <= {str(world.a.group.pk)}


def test_a_lists_show_only_a(world, a_scim):
    users = a_scim.get("/Users", {"count": 1000}).json()
    assert users["totalResults"] == world.a.org.memberships.count()
    groups = a_scim.get("/Groups").json()
    assert [g["id"] for g in groups["Resources"]] == [str(world.a.group.pk)]
    assert MARKER not in json.dumps([users, groups])


def test_a_user_with_b_user_name_is_a_separate_member(world, a_scim):
    """Same person pushed by A's IdP: a new A membership; B's record is untouched."""
    b = world.b
    before_b = list(b.org.memberships.order_by("pk").values_list("pk", "scim_username", "active", "given_name"))
    response = a_scim.post("/Users", new_user(b.member.user.email, name={"givenName": "Hijack", "familyName": "X"}))
    assert response.status_code == 201
    assert response.json()["id"] not in {str(pk) for pk, *_ in before_b}
    assert list(b.org.memberships.order_by("pk").values_list("pk", "scim_username", "active", "given_name")) == before_b


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Token {t}", "Basic {t}", "Bearer {t}x", "Bearer {t} {t}", "bearer  {t}\x00"],
)
def test_malformed_authorization_is_401(world, header):
    b = world.b
    value = header.format(t=b.token)
    client = Client()
    extra = {"HTTP_AUTHORIZATION": value} if value else {}
    response = client.get(f"/scim/v2/organizations/{b.org.uid}/Users", **extra)
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
