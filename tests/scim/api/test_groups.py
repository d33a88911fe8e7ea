"""SCIM Groups in every form the IdPs send."""
from __future__ import annotations

import pytest

from organizations.models import AuditEvent
from scim.models import ScimGroup, ScimGroupMember
from tests import builders

from .helpers import GROUP_SCHEMA, new_user, patch_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(scim):
    return [scim.post("/Users", new_user(f"p{i}@x.com")).json()["id"] for i in range(3)]


def members_of(group_id) -> set[str]:
    return {str(i) for i in ScimGroupMember.objects.filter(group_id=group_id).values_list("membership_id", flat=True)}


def test_post_group_without_and_with_members(scim, org, people):
    empty = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []})
    assert empty.status_code == 201
    group = ScimGroup.objects.get(organization=org, display_name="Engineering")
    location = f"http://127.0.0.1:8000/scim/v2/organizations/{org.uid}/Groups/{group.pk}"
    assert empty["Location"] == location
    assert empty.json() == {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.pk),
        "displayName": "Engineering",
        "members": [],
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": location,
            "version": empty["ETag"],
        },
    }
    assert empty["ETag"].startswith('W/"')
    full = scim.post("/Groups", {"displayName": "Ops", "externalId": "x1", "members": [{"value": people[0]}, {"value": people[1]}]})
    assert full.status_code == 201
    doc = full.json()
    assert doc["externalId"] == "x1"
    assert [m["value"] for m in doc["members"]] == people[:2]
    assert doc["members"][0] == {
        "value": people[0],
        "$ref": f"http://127.0.0.1:8000/scim/v2/organizations/{org.uid}/Users/{people[0]}",
        "type": "User",
    }


def test_duplicate_display_name_is_409_case_insensitively(scim):
    assert scim.post("/Groups", {"displayName": "Eng"}).status_code == 201
    response = scim.post("/Groups", {"displayName": "ENG"})
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_missing_display_name_is_400(scim):
    response = scim.post("/Groups", {"members": []})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_unknown_member_ids_are_400_and_nothing_applied(scim, other_org, people):
    foreign = builders.make_member(other_org, "foreign@x.com")
    response = scim.post("/Groups", {"displayName": "Mixed", "members": [{"value": people[0]}, {"value": str(foreign.pk)}]})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert not ScimGroup.objects.filter(display_name="Mixed").exists()
    gid = scim.post("/Groups", {"displayName": "G"}).json()["id"]
    for value in (str(foreign.pk), "nope", "99999999"):
        bad = scim.patch(f"/Groups/{gid}", patch_body({"op": "add", "path": "members", "value": [{"value": people[1]}, {"value": value}]}))
        assert bad.status_code == 400
        assert members_of(gid) == set()


def test_get_honours_attributes_and_excluded_attributes(scim, people):
    gid = scim.post("/Groups", {"displayName": "G", "members": [{"value": people[0]}]}).json()["id"]
    doc = scim.get(f"/Groups/{gid}", {"excludedAttributes": "members"}).json()
    assert "members" not in doc and doc["displayName"] == "G" and doc["id"] == gid
    doc = scim.get(f"/Groups/{gid}", {"attributes": "displayName"}).json()
    assert set(doc) == {"schemas", "id", "displayName"}
    doc = scim.get(f"/Groups/{gid}", {"attributes": "members.value"}).json()
    assert doc["members"] == [{"value": people[0]}]


def test_put_replaces_name_and_members(scim, people):
    gid = scim.post("/Groups", {"displayName": "G", "members": [{"value": people[0]}]}).json()["id"]
    response = scim.put(f"/Groups/{gid}", {"displayName": "G2", "members": [{"value": people[1]}, {"value": people[2]}]})
    assert response.status_code == 200
    assert response.json()["displayName"] == "G2"
    assert members_of(gid) == {people[1], people[2]}
    assert scim.put(f"/Groups/{gid}", {"displayName": "G2", "members": []}).status_code == 200
    assert members_of(gid) == set()


def test_patch_okta_forms(scim, people):
    gid = scim.post("/Groups", {"displayName": "Engineering", "members": [{"value": people[0]}]}).json()["id"]
    response = scim.patch(
        f"/Groups/{gid}",
        patch_body(
            {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
            {"op": "remove", "path": f'members[value eq "{people[0]}"]'},
            {"op": "add", "path": "members", "value": [{"value": people[1], "display": "p1@x.com"}]},
        ),
    )
    assert response.status_code == 204
    assert response.content == b""
    assert members_of(gid) == {people[1]}
    scim.patch(f"/Groups/{gid}", patch_body({"op": "replace", "path": "members", "value": [{"value": people[2]}]}))
    assert members_of(gid) == {people[2]}
    scim.patch(f"/Groups/{gid}", patch_body({"op": "replace", "value": {"members": [{"value": people[0]}, {"value": people[1]}]}}))
    assert members_of(gid) == {people[0], people[1]}
    scim.patch(f"/Groups/{gid}", patch_body({"op": "add", "path": "members", "value": {"value": people[2]}}))
    assert members_of(gid) == set(people)
    rename = scim.patch(f"/Groups/{gid}", patch_body({"op": "replace", "value": {"id": "wrong-id", "displayName": "Eng 2"}}))
    assert rename.status_code == 204
    assert ScimGroup.objects.get(pk=gid).display_name == "Eng 2"


def test_patch_entra_forms(scim, people):
    gid = scim.post("/Groups", {"displayName": "G"}).json()["id"]
    scim.patch(f"/Groups/{gid}", patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": people[0]}, {"value": people[1]}]}))
    assert members_of(gid) == {people[0], people[1]}
    scim.patch(f"/Groups/{gid}", patch_body({"op": "Remove", "path": "members", "value": [{"value": people[0]}]}))
    assert members_of(gid) == {people[1]}
    scim.patch(f"/Groups/{gid}", patch_body({"op": "Replace", "path": "displayName", "value": "Renamed"}))
    assert ScimGroup.objects.get(pk=gid).display_name == "Renamed"
    scim.patch(f"/Groups/{gid}", patch_body({"op": "Remove", "path": "members"}))
    assert members_of(gid) == set()


def test_patch_remove_of_non_member_is_a_no_op(scim, people):
    gid = scim.post("/Groups", {"displayName": "G", "members": [{"value": people[0]}]}).json()["id"]
    response = scim.patch(f"/Groups/{gid}", patch_body({"op": "remove", "path": 'members[value eq "424242"]'}))
    assert response.status_code == 204
    assert members_of(gid) == {people[0]}


def test_patch_answers_200_with_group_when_attributes_requested(scim, people):
    gid = scim.post("/Groups", {"displayName": "G"}).json()["id"]
    response = scim.send(
        "patch", f"/Groups/{gid}?excludedAttributes=members", patch_body({"op": "add", "path": "members", "value": [{"value": people[0]}]})
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "G" and "members" not in response.json()


def test_membership_changes_are_announced_once_per_request(scim, org, people):
    from scim.signals import group_membership_changed

    calls = []

    def listen(sender, *, organization, member_ids, actor, **kwargs):
        assert organization == org
        calls.append((sorted(member_ids), actor))

    group_membership_changed.connect(listen)
    try:
        gid = scim.post("/Groups", {"displayName": "G", "members": [{"value": people[0]}]}).json()["id"]
        scim.patch(
            f"/Groups/{gid}",
            patch_body({"op": "remove", "path": f'members[value eq "{people[0]}"]'}, {"op": "add", "path": "members", "value": [{"value": people[1]}]}),
        )
        scim.delete(f"/Groups/{gid}")
    finally:
        group_membership_changed.disconnect(listen)
    ids = [sorted(int(p) for p in x) for x in ([people[0]], [people[0], people[1]], [people[1]])]
    assert [c[0] for c in calls] == ids
    assert all(c[1].__class__.__name__ == "AppInstallation" for c in calls)


def test_delete_group(scim, people):
    gid = scim.post("/Groups", {"displayName": "G", "members": [{"value": people[0]}]}).json()["id"]
    response = scim.delete(f"/Groups/{gid}")
    assert response.status_code == 204
    assert scim.get(f"/Groups/{gid}").status_code == 404
    assert not ScimGroupMember.objects.filter(group_id=gid).exists()
    assert AuditEvent.objects.filter(action="scim.group.delete", target_id=gid).exists()


def test_rename_to_existing_name_is_409_and_members_untouched(scim, people):
    scim.post("/Groups", {"displayName": "Taken"})
    gid = scim.post("/Groups", {"displayName": "G"}).json()["id"]
    response = scim.patch(
        f"/Groups/{gid}",
        patch_body({"op": "add", "path": "members", "value": [{"value": people[0]}]}, {"op": "replace", "path": "displayName", "value": "taken"}),
    )
    assert response.status_code == 409
    assert members_of(gid) == set()
