"""ETags (RFC 7644 §3.14): meta.version and the ETag header on
every User and Group, If-Match on writes (412 when stale, nothing written),
If-None-Match on GET of one resource (304)."""
from __future__ import annotations

import pytest

from organizations.models import Membership
from scim.models import ScimGroup, ScimGroupMember
from tests import builders
from tests.hardening.snapshot import snapshot

from .helpers import ERROR_SCHEMA, new_user, patch_body

pytestmark = pytest.mark.django_db


def etag(response) -> str:
    assert response.status_code in (200, 201, 204, 304), response.content
    tag = response["ETag"]
    assert tag.startswith('W/"') and tag.endswith('"'), tag
    return tag


def version(response) -> str:
    tag = etag(response)
    assert response.json()["meta"]["version"] == tag
    return tag


@pytest.fixture
def group(org, member):
    g = ScimGroup.objects.create(organization=org, display_name="Eng")
    ScimGroupMember.objects.create(group=g, membership=member)
    return g


# --- version present, in the body and the header --------------------------------------


def test_users_carry_their_version_on_every_read_and_write(scim, member):
    url = f"/Users/{member.pk}"
    got = version(scim.get(url))
    listed = {r["id"]: r["meta"]["version"] for r in scim.get("/Users").json()["Resources"]}
    assert listed[str(member.pk)] == got
    looked_up = scim.get("/Users", {"filter": f'userName eq "{member.scim_username}"'}).json()["Resources"][0]
    assert looked_up["meta"]["version"] == got
    created = scim.post("/Users", new_user("jane@x.com"))
    assert created.status_code == 201
    assert version(created) == version(scim.get(f"/Users/{created.json()['id']}"))
    put = scim.put(url, new_user(member.scim_username, displayName="Bob Put"))
    assert version(put) != got
    patched = scim.patch(url, patch_body({"op": "replace", "path": "displayName", "value": "Bob Patch"}))
    assert version(patched) not in (got, put["ETag"])
    assert version(scim.get(url)) == patched["ETag"]


def test_groups_carry_their_version_on_every_read_and_write(scim, group):
    url = f"/Groups/{group.pk}"
    got = version(scim.get(url))
    assert scim.get("/Groups").json()["Resources"][0]["meta"]["version"] == got
    created = scim.post("/Groups", {"displayName": "Ops"})
    assert version(created) == version(scim.get(f"/Groups/{created.json()['id']}"))
    put = scim.put(url, {"displayName": "Eng2"})
    assert version(put) != got
    patched = scim.patch(url, patch_body({"op": "replace", "path": "displayName", "value": "Eng3"}))
    assert patched.status_code == 204 and etag(patched) != put["ETag"]
    assert version(scim.get(url)) == patched["ETag"]  # the 204's ETag is the version written


def test_a_group_version_changes_when_only_its_members_change(scim, org, group):
    url = f"/Groups/{group.pk}"
    other = builders.make_member(org, "carol@acme.example")
    first = version(scim.get(url))
    added = scim.patch(url, patch_body({"op": "add", "path": "members", "value": [{"value": str(other.pk)}]}))
    assert etag(added) != first
    second = version(scim.get(url))
    assert second == added["ETag"]
    removed = scim.patch(url, patch_body({"op": "remove", "path": f'members[value eq "{other.pk}"]'}))
    assert etag(removed) != second
    third = version(scim.get(url))
    # a member deleted from the org leaves the group: its version moves too
    assert scim.delete(f"/Users/{[m for m in group.memberships.values_list('membership_id', flat=True)][0]}").status_code == 204
    assert version(scim.get(url)) != third


def test_a_user_version_changes_when_its_e_mails_or_groups_change(scim, org, member, group):
    url = f"/Users/{member.pk}"
    first = version(scim.get(url))
    emails = scim.patch(url, patch_body({"op": "add", "path": "emails", "value": [{"value": "bob2@acme.example"}]}))
    assert version(emails) != first
    second = emails["ETag"]
    ops = scim.post("/Groups", {"displayName": "Ops", "members": [{"value": str(member.pk)}]})
    assert ops.status_code == 201
    third = version(scim.get(url))
    assert third != second  # its groups are part of its representation
    scim.patch(f"/Groups/{ops.json()['id']}", patch_body({"op": "replace", "path": "displayName", "value": "Ops2"}))
    assert version(scim.get(url)) != third  # and so are their names
    # ... but not of what a write of the User can overwrite: If-Match still holds
    assert scim.patch(url, patch_body({"op": "replace", "path": "displayName", "value": "B"}), HTTP_IF_MATCH=second).status_code == 200


def test_the_same_state_keeps_its_version(scim, member):
    url = f"/Users/{member.pk}"
    assert scim.get(url)["ETag"] == scim.get(url)["ETag"]
    without_groups = scim.get(url, {"excludedAttributes": "groups"})
    assert version(without_groups) == scim.get(url)["ETag"]  # a user in no group


# --- If-Match -------------------------------------------------------------------------


def assert_412(response) -> None:
    assert response.status_code == 412, response.content
    doc = response.json()
    assert doc["schemas"] == [ERROR_SCHEMA] and doc["status"] == "412" and "scimType" not in doc
    assert "If-Match" in doc["detail"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_on_a_user_write_is_412_and_writes_nothing(scim, member, method):
    url = f"/Users/{member.pk}"
    stale = scim.get(url)["ETag"]
    scim.patch(url, patch_body({"op": "replace", "path": "displayName", "value": "Changed meanwhile"}))
    before = snapshot()
    body = {
        "PUT": new_user(member.scim_username, displayName="Lost update"),
        "PATCH": patch_body({"op": "replace", "path": "displayName", "value": "Lost update"}),
        "DELETE": None,
    }[method]
    assert_412(scim.send(method, url, body, HTTP_IF_MATCH=stale))
    assert snapshot() == before
    assert Membership.objects.get(pk=member.pk).display_name == "Changed meanwhile"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_on_a_group_write_is_412_and_writes_nothing(scim, org, group, method):
    url = f"/Groups/{group.pk}"
    stale = scim.get(url)["ETag"]
    other = builders.make_member(org, "carol@acme.example")
    scim.patch(url, patch_body({"op": "add", "path": "members", "value": [{"value": str(other.pk)}]}))  # members only
    before = snapshot()
    body = {
        "PUT": {"displayName": "Lost"},
        "PATCH": patch_body({"op": "replace", "path": "displayName", "value": "Lost"}),
        "DELETE": None,
    }[method]
    assert_412(scim.send(method, url, body, HTTP_IF_MATCH=stale))
    assert snapshot() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_current_or_star_if_match_applies(scim, member, method):
    url = f"/Users/{member.pk}"
    body = {
        "PUT": new_user(member.scim_username, displayName="New"),
        "PATCH": patch_body({"op": "replace", "path": "displayName", "value": "New"}),
        "DELETE": None,
    }[method]
    current = scim.get(url)["ETag"]
    assert scim.send(method, url, body, HTTP_IF_MATCH=f'"nope", {current}').status_code in (200, 204)
    if method != "DELETE":
        assert scim.send(method, url, body, HTTP_IF_MATCH="*").status_code == 200
        # the strong form of the same tag matches too (weak comparison, RFC 7644 §3.14)
        strong = scim.get(url)["ETag"].removeprefix("W/")
        assert scim.send(method, url, body, HTTP_IF_MATCH=strong).status_code == 200


def test_star_if_match_on_a_missing_resource_is_still_404(scim):
    assert scim.delete("/Users/999999", HTTP_IF_MATCH="*").status_code == 404


# --- If-None-Match --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_if_none_match_on_get_is_304_while_unchanged(scim, member, group, kind):
    url = f"/{kind}/{member.pk if kind == 'Users' else group.pk}"
    current = scim.get(url)["ETag"]
    unchanged = scim.get(url, HTTP_IF_NONE_MATCH=current)
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == current
    assert scim.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert scim.get(url, HTTP_IF_NONE_MATCH='W/"0"').status_code == 200
    if kind == "Users":
        scim.patch(url, patch_body({"op": "replace", "path": "displayName", "value": "Changed"}))
    else:
        scim.patch(url, patch_body({"op": "remove", "path": "members"}))
    changed = scim.get(url, HTTP_IF_NONE_MATCH=current)
    assert changed.status_code == 200 and changed["ETag"] != current


def test_service_provider_config_says_etags_are_supported(scim):
    assert scim.get("/ServiceProviderConfig").json()["etag"] == {"supported": True}
