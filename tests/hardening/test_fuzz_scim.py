"""Hostile input at every SCIM endpoint (property-based). Whatever arrives, the
answer is never a 5xx: a refusal is a 4xx SCIM error document with a `detail`
that says what was wrong, and a refused request changes nothing in the database.

The number of inputs tried is counted (see the summary line "hostile SCIM
inputs" that tests/hardening/conftest.py prints); examples are derandomized so a
CI run is reproducible."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from organizations.models import Membership
from scim.models import ScimGroup
from tests import builders
from tests.scim.api.helpers import ScimClient

from . import strategies as s
from .snapshot import diff, snapshot

pytestmark = pytest.mark.django_db

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
TRIED = {"inputs": 0, "refused": 0, "accepted": 0, "server_errors": 0}


class Env:
    """What the fuzz tests aim at (a plain class: hypothesis prints dataclasses field by field)."""

    def __init__(self, scim: ScimClient, member: Membership, owner: Membership, group: ScimGroup,
                 foreign_member: Membership, member_ids: st.SearchStrategy) -> None:
        self.scim, self.member, self.owner, self.group = scim, member, owner, group
        self.foreign_member, self.member_ids = foreign_member, member_ids

    def __repr__(self) -> str:
        return f"Env(member={self.member.pk}, owner={self.owner.pk}, group={self.group.pk})"


@pytest.fixture
def env(org, other_org) -> Env:
    installation, token = builders.enable_scim(org)
    member = builders.make_member(org, "fuzz.member@acme.example")
    owner = builders.owner_of(org)
    group = ScimGroup.objects.create(organization=org, display_name="Fuzzers")
    group.memberships.create(membership=member)
    foreign = builders.make_member(other_org, "foreign@globex.example")
    ids = st.one_of(
        st.sampled_from([str(member.pk), str(owner.pk), str(foreign.pk), "999999999", "0", "-1", "abc", "", " 1",
                         "9" * 25, f"{member.pk}.0", f"0{member.pk}"]),
        st.integers(-5, 10**20).map(str),
        s.json_values,
    )
    return Env(ScimClient(org, token, Client()), member, owner, group, foreign, ids)


def check(response, before) -> None:
    """The property every answer must have."""
    TRIED["inputs"] += 1
    status = response.status_code
    body = response.content[:500]
    if status >= 500:
        TRIED["server_errors"] += 1
    assert status < 500, (status, body)
    if status < 400:
        TRIED["accepted"] += 1
        return
    TRIED["refused"] += 1
    assert response["Content-Type"].startswith("application/scim+json"), response["Content-Type"]
    doc = json.loads(response.content)
    assert ERROR_SCHEMA in doc["schemas"], doc
    assert doc["status"] == str(status)
    assert isinstance(doc.get("detail"), str) and len(doc["detail"]) >= 5, doc
    after = snapshot()
    assert after == before, ("a refused request changed the database", status, doc, diff(before, after))


def send(env: Env, method: str, path: str, body, content_type: str = "application/scim+json"):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {env.scim.token}"}
    if method in ("GET", "DELETE"):
        return getattr(env.scim.client, method.lower())(env.scim.url(path), **auth)
    data = body if isinstance(body, bytes) else s.dumps(body)
    return env.scim.client.generic(method, env.scim.url(path), data=data, content_type=content_type, **auth)


def _path(env: Env, template: str) -> str:
    return template.format(user=env.member.pk, owner=env.owner.pk, group=env.group.pk)


@FUZZ
@given(data=st.data())
def test_user_writes_never_fail_on_the_server_or_half_apply(env, data):
    method, template = data.draw(
        st.sampled_from([("POST", "/Users"), ("PUT", "/Users/{user}"), ("PUT", "/Users/{owner}")]), label="endpoint"
    )
    body = data.draw(s.user_body(env.member_ids), label="body")
    before = snapshot()
    check(send(env, method, _path(env, template), body), before)


@FUZZ
@given(data=st.data())
def test_user_patches_never_fail_on_the_server_or_half_apply(env, data):
    template = data.draw(st.sampled_from(["/Users/{user}", "/Users/{owner}"]), label="endpoint")
    body = data.draw(s.patch_body(env.member_ids), label="body")
    before = snapshot()
    check(send(env, "PATCH", _path(env, template), body), before)


@FUZZ
@given(data=st.data())
def test_group_writes_never_fail_on_the_server_or_half_apply(env, data):
    method, template = data.draw(st.sampled_from([("POST", "/Groups"), ("PUT", "/Groups/{group}")]), label="endpoint")
    body = data.draw(s.group_body(env.member_ids), label="body")
    before = snapshot()
    check(send(env, method, _path(env, template), body), before)


@FUZZ
@given(data=st.data())
def test_group_patches_never_fail_on_the_server_or_half_apply(env, data):
    body = data.draw(s.patch_body(env.member_ids), label="body")
    before = snapshot()
    check(send(env, "PATCH", _path(env, "/Groups/{group}"), body), before)


@FUZZ
@given(data=st.data())
def test_mixed_valid_and_invalid_member_operations_apply_all_or_nothing(env, data):
    """A PATCH whose operations are each fine on their own, but one names an
    unknown or foreign member, changes nothing at all."""
    good = {"op": "add", "path": "members", "value": [{"value": str(env.owner.pk)}]}
    rename = {"op": "replace", "path": "displayName", "value": data.draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30), label="name")}
    remove = {"op": "remove", "path": f'members[value eq "{env.member.pk}"]'}
    bad_id = data.draw(st.sampled_from([str(env.foreign_member.pk), "999999999", "x", "-3"]), label="bad id")
    bad = {"op": data.draw(st.sampled_from(["add", "replace", "Add"]), label="op"), "path": "members", "value": [{"value": bad_id}]}
    ops = data.draw(st.permutations([good, rename, remove, bad]), label="order")
    before = snapshot()
    response = send(env, "PATCH", _path(env, "/Groups/{group}"), {"schemas": [s.PATCH_SCHEMA], "Operations": ops})
    assert response.status_code == 400, response.content
    check(response, before)
    assert bad_id in response.json()["detail"] or "member" in response.json()["detail"].lower()


@FUZZ
@given(params=s.list_params, resource=st.sampled_from(["/Users", "/Groups"]))
def test_list_queries_never_fail_on_the_server(env, params, resource):
    before = snapshot()
    response = env.scim.get(resource, params)
    check(response, before)
    if response.status_code == 400 and "filter" in params:
        assert response.json().get("scimType") in (None, "invalidFilter", "invalidValue", "invalidSyntax")


@FUZZ
@given(body=s.search_body(), resource=st.sampled_from(["/Users/.search", "/Groups/.search"]))
def test_search_requests_never_fail_on_the_server(env, body, resource):
    before = snapshot()
    check(send(env, "POST", resource, body), before)


@FUZZ
@given(
    raw=s.raw_bodies,
    content_type=s.content_types,
    target=st.sampled_from(
        [("POST", "/Users"), ("PUT", "/Users/{user}"), ("PATCH", "/Users/{user}"), ("POST", "/Groups"),
         ("PUT", "/Groups/{group}"), ("PATCH", "/Groups/{group}"), ("POST", "/Users/.search"), ("POST", "/Groups/.search")]
    ),
)
def test_malformed_bodies_are_4xx_scim_errors(env, raw, content_type, target):
    method, template = target
    before = snapshot()
    check(send(env, method, _path(env, template), raw, content_type=content_type), before)


@FUZZ
@given(
    resource_id=st.one_of(s.strings, st.integers().map(str), st.sampled_from(["..", ".", "%00", "%2e%2e", "1/2", "-0"])).filter(
        lambda v: v.encode("utf-8", "ignore").decode() == v  # a URL cannot carry a lone surrogate
    ),
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
    resource=st.sampled_from(["Users", "Groups"]),
)
def test_odd_resource_ids_are_404_or_405(env, resource_id, method, resource):
    from urllib.parse import quote

    before = snapshot()
    path = f"/{resource}/{quote(resource_id, safe='')}"
    if resource_id in ("", ".", "..") or resource_id.isdigit():
        return  # the collection itself, or possibly a real id
    response = send(env, method, path, {"schemas": [s.PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "members"}]})
    check(response, before)
    assert response.status_code in (400, 404, 405), response.status_code


# --- request size --------------------------------------------------------------


class ExplodingStream:
    """A wsgi.input that fails the test if anyone reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the request body was read")

    readline = read

    def __iter__(self):
        raise AssertionError("the request body was read")


@pytest.mark.parametrize("method,template", [("POST", "/Users"), ("PUT", "/Users/{user}"), ("PATCH", "/Groups/{group}"),
                                             ("POST", "/Groups/.search")])
def test_declared_oversized_body_is_413_without_reading_it(env, settings, method, template):
    settings.SCIM_MAX_BODY_BYTES = 1024
    before = snapshot()
    response = env.scim.client.generic(
        method,
        env.scim.url(_path(env, template)),
        data=b"{}",
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {env.scim.token}",
        CONTENT_LENGTH=str(1024 + 1),
        **{"wsgi.input": ExplodingStream()},
    )
    assert response.status_code == 413
    doc = response.json()
    assert doc["status"] == "413" and "1024" in doc["detail"]
    assert snapshot() == before


def test_undeclared_oversized_body_is_413(env, settings):
    """A body longer than the limit but sent with a smaller (or no) length is cut
    at the limit and refused."""
    settings.SCIM_MAX_BODY_BYTES = 1024
    before = snapshot()
    body = s.dumps({"schemas": [s.USER_SCHEMA], "userName": "big@example.com", "displayName": "x" * 5000})
    response = send(env, "POST", "/Users", body)
    assert response.status_code == 413
    assert response.json()["status"] == "413"
    assert snapshot() == before


def test_body_at_the_limit_is_accepted(env, settings):
    body = s.dumps({"schemas": [s.USER_SCHEMA], "userName": "edge@example.com", "displayName": "y" * 200})
    settings.SCIM_MAX_BODY_BYTES = len(body)
    assert send(env, "POST", "/Users", body).status_code == 201


def test_oversized_body_without_a_token_is_401_and_not_read(env, settings):
    settings.SCIM_MAX_BODY_BYTES = 1024
    response = env.scim.client.generic(
        "POST", env.scim.url("/Users"), data=b"{}", content_type="application/scim+json",
        CONTENT_LENGTH=str(10**9), **{"wsgi.input": ExplodingStream()},
    )
    assert response.status_code == 401


@FUZZ
@given(
    header=st.one_of(
        s.strings,
        st.builds(lambda scheme, tail: f"{scheme} {tail}", st.sampled_from(["Bearer", "bearer", "BEARER", "Token", "Basic", ""]),
                  st.one_of(s.strings, st.sampled_from(["odk_", "odk_12345678_", "odk_zzzzzzzz_" + "a" * 43, "odk__x", "_" * 3]))),
    ).filter(lambda h: "\n" not in h and "\r" not in h),
    org_uid=st.one_of(st.none(), st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=40)),
)
def test_bad_credentials_and_org_uids_are_401_never_500(env, settings, header, org_uid):
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 0  # this test is about the answer, not the throttle
    before = snapshot()
    uid = org_uid or env.scim.org.uid
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = env.scim.client.get(f"/scim/v2/organizations/{uid}/Users", **extra)
    if org_uid is None and header.strip().lower() == f"bearer {env.scim.token}".lower():
        return  # the one right answer hypothesis is unlikely to find
    check(response, before)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- nothing dropped without a trace ------------------------------------
# An attribute Orgdesk does not store is refused (400 invalidPath for a PATCH path,
# invalidValue for a body or a path-less value) or, when it is on the documented
# list of ignored attributes, accepted and named in the call's activity entry. A
# 200 that stored nothing and named nothing fails these tests.


def _activity_detail(env: Env) -> str:
    from scim.models import ProvisioningEvent

    return ProvisioningEvent.objects.filter(organization=env.scim.org).latest("id").detail


def _assert_refused(response, before, scim_type: str) -> None:
    check(response, before)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response.json()["scimType"] == scim_type, response.json()


@FUZZ
@given(data=st.data())
def test_patch_paths_naming_no_attribute_are_invalid_path(env, data):
    kind = data.draw(st.sampled_from(["Users", "Groups"]), label="resource")
    path = data.draw(s.unknown_user_paths() if kind == "Users" else s.unknown_group_paths(), label="path")
    op = data.draw(st.sampled_from(["add", "replace", "remove", "Replace"]), label="op")
    value = data.draw(s.safe_values, label="value")
    target = f"/Users/{env.member.pk}" if kind == "Users" else f"/Groups/{env.group.pk}"
    before = snapshot()
    response = send(env, "PATCH", target, {"schemas": [s.PATCH_SCHEMA], "Operations": [{"op": op, "path": path, "value": value}]})
    _assert_refused(response, before, "invalidPath")


@FUZZ
@given(data=st.data())
def test_bodies_and_path_less_values_carrying_an_unknown_attribute_are_invalid_value(env, data):
    name = data.draw(s.unknown_names, label="unknown attribute")
    value = data.draw(s.safe_values, label="value")
    where = data.draw(st.sampled_from(["POST /Users", "PUT /Users", "PATCH /Users", "POST /Groups", "PUT /Groups", "PATCH /Groups"]), label="call")
    method, resource = where.split()
    user_doc = {"schemas": [s.USER_SCHEMA], "userName": env.member.scim_username, "emails": [{"value": env.member.scim_username}]}
    group_doc = {"schemas": [s.GROUP_SCHEMA], "displayName": "Fuzzers"}
    doc = {**(user_doc if resource == "/Users" else group_doc), name: value}
    target = resource if method == "POST" else f"{resource}/{env.member.pk if resource == '/Users' else env.group.pk}"
    if method == "POST" and resource == "/Users":
        doc["userName"] = doc["emails"][0]["value"] = f"new.{abs(hash(name)) % 10**8}@fuzz.example"
    if method == "PATCH":
        doc = {"schemas": [s.PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {name: value, "displayName": "Renamed"}}]}
    before = snapshot()
    response = send(env, method, target, doc)
    _assert_refused(response, before, "invalidValue")
    assert name in response.json()["detail"]


@FUZZ
@given(data=st.data())
def test_ignored_attributes_are_accepted_and_named_in_the_activity_entry(env, data):
    ignored = data.draw(st.lists(s.ignored_user_paths(), min_size=1, max_size=3, unique_by=lambda p: p[1]), label="ignored")
    value = data.draw(s.safe_values, label="value")
    new_name = data.draw(st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=30), label="displayName")
    form = data.draw(st.sampled_from(["patch paths", "path-less", "PUT body"]), label="form")
    url = f"/Users/{env.member.pk}"
    if form == "patch paths":
        ops = [{"op": "replace", "path": path, "value": value} for path, _ in ignored]
        ops.append({"op": "replace", "path": "displayName", "value": new_name})
        response = send(env, "PATCH", url, {"schemas": [s.PATCH_SCHEMA], "Operations": ops})
        expected = [name for _, name in ignored]
    else:
        # as keys of a document: a top-level attribute, or an extension's URN
        keys = {}
        for path, name in ignored:
            top = name if not name.startswith("urn:") else name.rsplit(":", 1)[0]
            keys[top] = value if not name.startswith("urn:") else {name.rsplit(":", 1)[1]: value}
        expected = list(keys)
        if form == "path-less":
            body = {"schemas": [s.PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {**keys, "displayName": new_name}}]}
            response = send(env, "PATCH", url, body)
        else:
            doc = {"schemas": [s.USER_SCHEMA], "userName": env.member.scim_username,
                   "emails": [{"value": env.member.scim_username, "primary": True}], "displayName": new_name, **keys}
            response = send(env, "PUT", url, doc)
    TRIED["inputs"] += 1
    TRIED["accepted"] += response.status_code < 400
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert Membership.objects.get(pk=env.member.pk).display_name == new_name  # what is stored was stored
    detail = _activity_detail(env)
    assert detail.startswith("ignored: "), detail
    named = detail.removeprefix("ignored: ").split(", ")
    assert all(name in named for name in expected), (expected, detail)
