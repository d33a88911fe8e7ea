"""Regression tests for what the fuzzing found: bodies and URLs that used to
reach the database or a parser and come back as 500s."""
from __future__ import annotations

import pytest

from scim.api import hostile
from scim.api.errors import ScimError
from tests.scim.api.helpers import new_user, patch_body

from .snapshot import diff, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(scim):
    user = scim.post("/Users", new_user("target@example.com")).json()["id"]
    group = scim.post("/Groups", {"displayName": "Target"}).json()["id"]
    return user, group


def assert_400(response, *words: str) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    doc = response.json()
    assert doc["status"] == "400" and doc["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    for word in words:
        assert word.lower() in doc["detail"].lower(), doc["detail"]
    return doc


@pytest.mark.parametrize(
    "raw,words",
    [
        (b'{"schemas":[],"userName":"x\\ud800@example.com"}', ["unicode"]),
        (b'{"userName":"nul\\u0000@example.com"}', ["nul"]),
        (b'{"name":{"givenName":"\\udfff"},"userName":"a@example.com"}', ["name.givenName"]),
        (b"[" * 50_000 + b"]" * 50_000, ["nested"]),
        (b'{"userName":' + b'{"a":' * 40 + b"1" + b"}" * 41, ["nested"]),
        (b'{"userName": NaN}', ["NaN"]),
        (b'{"userName": Infinity}', ["Infinity"]),
        (b"\xff\xfe{}", ["UTF-8"]),
    ],
)
def test_unstorable_or_pathological_user_bodies_are_400(scim, ids, raw, words):
    before = snapshot()
    for method, path in (("POST", "/Users"), ("PUT", f"/Users/{ids[0]}")):
        assert_400(scim.send(method, path, raw), *words)
    after = snapshot()
    assert after == before, diff(before, after)


@pytest.mark.parametrize(
    "operation,words",
    [
        ({"op": "add", "path": [None]}, ["path", "string"]),
        ({"op": "replace", "path": 7, "value": "x"}, ["path"]),
        ({"op": "move", "path": "displayName", "value": "x"}, ["op"]),
        ({"op": None}, ["op"]),
        ("replace", ["object"]),
        ({"op": "replace", "value": {"displayName": "a\x00b"}}, ["nul"]),
    ],
)
def test_malformed_patch_operations_are_400_and_apply_nothing(scim, ids, operation, words):
    user, group = ids
    good = {"op": "replace", "path": "displayName", "value": "Renamed"}
    before = snapshot()
    for path in (f"/Users/{user}", f"/Groups/{group}"):
        assert_400(scim.patch(path, patch_body(good, operation)), *words)
    after = snapshot()
    assert after == before, diff(before, after)


def test_nul_in_the_url_path_is_a_clean_404(scim):
    """PostgreSQL cannot store NUL: the activity row for this call must not fail."""
    before = snapshot()
    for path in ("/Users/%00", "/Groups/a%00b", "/Users/1%00"):
        response = scim.get(path)
        assert response.status_code == 404, response.content
        assert response.json()["status"] == "404"
    assert snapshot() == before
    assert scim.get("/Users").status_code == 200  # the connection is still usable


def test_nul_in_query_parameters_is_refused(scim):
    for params in ({"filter": 'userName eq "a\x00b"'}, {"sortBy": "userName\x00"}, {"attributes": "userName\x00"}):
        assert_400(scim.get("/Users", params), "nul")
        assert_400(scim.get("/Groups", params), "nul")
    assert scim.get("/Users").status_code == 200


def test_check_document_walks_without_recursion():
    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ScimError):
        hostile.check_document(deep)
    hostile.check_document({"userName": "fine", "emails": [{"value": "a@b.c", "primary": True}]})
