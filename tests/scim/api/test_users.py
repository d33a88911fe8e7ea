"""SCIM Users: a User is the org membership."""
from __future__ import annotations

import pytest

from organizations.models import AuditEvent, Membership, MembershipEmail, OrgRole, User
from tests import builders

from .helpers import ENTERPRISE, ERROR_SCHEMA, USER_SCHEMA, new_user, patch_body

pytestmark = pytest.mark.django_db


def test_post_creates_account_and_member_with_full_resource(scim, org):
    body = new_user("jane@x.com", externalId="00u1abcd", locale="en-US", groups=[], password="placeholder")
    response = scim.post("/Users", body)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"
    doc = response.json()
    membership = Membership.objects.get(organization=org, scim_username="jane@x.com")
    location = f"http://127.0.0.1:8000/scim/v2/organizations/{org.uid}/Users/{membership.pk}"
    assert response["Location"] == location
    assert doc == {
        "schemas": [USER_SCHEMA],
        "id": str(membership.pk),
        "externalId": "00u1abcd",
        "userName": "jane@x.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "displayName": "Jane Doe",
        "emails": [{"value": "jane@x.com", "primary": True, "type": "work"}],
        "active": True,
        "meta": {
            "resourceType": "User",
            "created": membership.created_at.isoformat(),
            "lastModified": membership.updated_at.isoformat(),
            "location": location,
            "version": response["ETag"],
        },
    }
    assert response["ETag"].startswith('W/"')
    assert membership.role == membership.manual_role == OrgRole.MEMBER
    assert membership.user.email == "jane@x.com"
    assert not membership.user.has_usable_password()  # the IdP's placeholder password is ignored
    assert AuditEvent.objects.filter(action="scim.user.provision", actor_type="installation").count() == 1


def test_post_uses_primary_email_when_username_is_not_an_email(scim, org):
    body = new_user("jdoe", emails=[{"value": "home@x.com", "type": "home"}, {"value": "Work@X.com", "type": "work", "primary": True}])
    response = scim.post("/Users", body)
    assert response.status_code == 201
    assert Membership.objects.get(pk=response.json()["id"]).user.email == "Work@x.com"  # domain normalised by Django


def test_post_without_any_email_is_invalid_value(scim):
    response = scim.post("/Users", new_user("jdoe", emails=[]))
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_same_username_again_is_409_uniqueness_case_insensitively(scim, org):
    assert scim.post("/Users", new_user("Jane@X.com")).status_code == 201
    response = scim.post("/Users", new_user("jane@x.com"))
    assert response.status_code == 409
    assert response.json() == {
        "schemas": [ERROR_SCHEMA],
        "status": "409",
        "scimType": "uniqueness",
        "detail": response.json()["detail"],
    }
    assert Membership.objects.get(organization=org, scim_username__iexact="jane@x.com").scim_username == "Jane@X.com"


def test_account_already_member_by_hand_is_409(scim, org, member):
    response = scim.post("/Users", new_user("someone-else", emails=[{"value": "BOB@acme.example", "primary": True}]))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_existing_account_of_another_org_is_linked_not_renamed(scim, org, other_org):
    elsewhere = builders.make_member(other_org, "pat@x.com")
    response = scim.post("/Users", new_user("pat@x.com", name={"givenName": "Patricia", "familyName": "Q"}))
    assert response.status_code == 201
    assert User.objects.filter(email__iexact="pat@x.com").count() == 1
    elsewhere.refresh_from_db()
    assert elsewhere.given_name != "Patricia"
    assert Membership.objects.get(pk=response.json()["id"]).user_id == elsewhere.user_id


@pytest.mark.parametrize(
    "body,scim_type",
    [
        ({"schemas": [USER_SCHEMA]}, "invalidValue"),
        ({"userName": 42}, "invalidValue"),
        ({"userName": "a@x.com", "active": "maybe"}, "invalidValue"),
        ({"userName": "a@x.com", "name": "Jane"}, "invalidValue"),
        ({"userName": "a@x.com", "emails": "a@x.com"}, "invalidValue"),
        ('{"userName": ', "invalidSyntax"),
        ("[1, 2]", "invalidSyntax"),
    ],
)
def test_bad_bodies_are_400(scim, org, body, scim_type):
    response = scim.post("/Users", body)
    assert response.status_code == 400
    assert response.json()["scimType"] == scim_type
    assert response.json()["status"] == "400"
    assert not Membership.objects.filter(organization=org, scim_username="a@x.com").exists()


def test_string_booleans_are_accepted(scim):
    response = scim.post("/Users", new_user("s@x.com", active="False"))
    assert response.status_code == 201
    assert response.json()["active"] is False


def test_get_returns_deactivated_user_and_404_for_unknown(scim, org, member):
    member.active = False
    member.save()
    response = scim.get(f"/Users/{member.pk}")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["userName"] == "bob@acme.example"
    for unknown in ("999999", "abc", "1e3"):
        missing = scim.get(f"/Users/{unknown}")
        assert missing.status_code == 404
        assert missing.json()["schemas"] == [ERROR_SCHEMA]
        assert missing.json()["status"] == "404"


def test_put_replaces_profile_ignoring_read_only_attributes(scim, member):
    current = scim.get(f"/Users/{member.pk}").json()
    current.update(
        userName="robert@acme.example",
        name={"givenName": "Robert", "familyName": "B"},
        displayName="Robert B",
        emails=[{"value": "robert@acme.example", "type": "work", "primary": True}],
        groups=[{"value": "1"}],
        id="999",
    )
    response = scim.put(f"/Users/{member.pk}", current)
    assert response.status_code == 200
    doc = response.json()
    assert doc["id"] == str(member.pk)
    assert doc["userName"] == "robert@acme.example"
    assert doc["name"] == {"givenName": "Robert", "familyName": "B"}
    member.refresh_from_db()
    assert member.user.email == "bob@acme.example"  # the account is never renamed
    assert list(member.email_set.values_list("value", flat=True)) == ["robert@acme.example"]


def test_put_active_false_deprovisions_and_true_restores(scim, member):
    body = scim.get(f"/Users/{member.pk}").json()
    body["active"] = False
    assert scim.put(f"/Users/{member.pk}", body).json()["active"] is False
    member.refresh_from_db()
    assert member.active is False
    body["active"] = True
    assert scim.put(f"/Users/{member.pk}", body).json()["active"] is True
    actions = list(AuditEvent.objects.filter(target_id=str(member.pk)).values_list("action", flat=True))
    assert "scim.user.deactivate" in actions and "scim.user.reactivate" in actions


def test_put_to_taken_username_is_409_and_changes_nothing(scim, org, member):
    other = builders.make_member(org, "carol@acme.example")
    body = scim.get(f"/Users/{member.pk}").json()
    body["userName"] = "CAROL@acme.example"
    body["displayName"] = "changed"
    response = scim.put(f"/Users/{member.pk}", body)
    assert response.status_code == 409
    member.refresh_from_db()
    assert member.display_name == ""
    assert other.pk != member.pk


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE"])
def test_patch_pathless_active_false_and_back(scim, member, op):
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": op, "value": {"active": False}}))
    assert response.status_code == 200
    assert response.json()["active"] is False
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": op, "value": {"active": True}}))
    assert response.json()["active"] is True


def test_patch_entra_dialect(scim, member):
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body(
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "bobby@acme.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Builder"},
            {"op": "Add", "value": {"name.givenName": "Bob", "displayName": "Bob Builder", f"{ENTERPRISE}:department": "Eng"}},
            {"op": "Add", "path": f"{ENTERPRISE}:costCenter", "value": "42"},
            {"op": "replace", "path": "externalId", "value": "guid-1"},
        ),
    )
    assert response.status_code == 200
    doc = response.json()
    assert doc["active"] is False
    assert doc["name"] == {"givenName": "Bob", "familyName": "Builder"}
    assert doc["displayName"] == "Bob Builder"
    assert doc["externalId"] == "guid-1"
    assert doc["emails"] == [{"value": "bobby@acme.example", "primary": True, "type": "work"}]
    assert doc[ENTERPRISE] == {"department": "Eng", "costCenter": "42"}
    assert ENTERPRISE in doc["schemas"]
    member.refresh_from_db()
    assert member.scim_extra == {ENTERPRISE: {"department": "Eng", "costCenter": "42"}}


def test_patch_paths_username_name_object_and_emails(scim, member):
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body(
            {"op": "replace", "path": "userName", "value": "b@acme.example"},
            {"op": "replace", "path": "name", "value": {"givenName": "B", "familyName": "C"}},
            {"op": "add", "path": "emails", "value": [{"value": "second@acme.example", "type": "home"}]},
            {"op": "replace", "path": "displayName", "value": "B C"},
        ),
    )
    doc = response.json()
    assert doc["userName"] == "b@acme.example"
    assert doc["name"] == {"givenName": "B", "familyName": "C"}
    assert [e["value"] for e in doc["emails"]] == ["bob@acme.example", "second@acme.example"]
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "remove", "path": 'emails[value eq "second@acme.example"]'}))
    assert [e["value"] for e in response.json()["emails"]] == ["bob@acme.example"]


def test_patch_with_enterprise_urn_object_value(scim, member):
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "add", "value": {ENTERPRISE: {"division": "R&D"}}}))
    assert response.json()[ENTERPRISE] == {"division": "R&D"}


def test_patch_ignores_unknown_and_read_only_paths(scim, member):
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body({"op": "add", "path": "groups", "value": [{"value": "1"}]}, {"op": "replace", "value": {"locale": "fr", "id": "5"}}),
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(member.pk)


def test_patch_errors(scim, member):
    assert scim.patch(f"/Users/{member.pk}", patch_body()).status_code == 400
    bad_op = scim.patch(f"/Users/{member.pk}", patch_body({"op": "move", "path": "userName", "value": "x"}))
    assert bad_op.status_code == 400
    no_path = scim.patch(f"/Users/{member.pk}", patch_body({"op": "remove"}))
    assert no_path.status_code == 400 and no_path.json()["scimType"] == "noTarget"
    bad_path = scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "path": "emails[type sw", "value": "x"}))
    assert bad_path.status_code == 400 and bad_path.json()["scimType"] == "invalidPath"
    remove_active = scim.patch(f"/Users/{member.pk}", patch_body({"op": "remove", "path": "active"}))
    assert remove_active.status_code == 400 and remove_active.json()["scimType"] == "mutability"


def test_failed_patch_changes_nothing(scim, org, member):
    builders.make_member(org, "taken@acme.example")
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "userName", "value": "TAKEN@acme.example"},
        ),
    )
    assert response.status_code == 409
    member.refresh_from_db()
    assert member.display_name == "" and member.scim_username == "bob@acme.example"


def test_delete_removes_membership_keeps_account_and_audit(scim, org, member):
    response = scim.delete(f"/Users/{member.pk}")
    assert response.status_code == 204
    assert response.content == b""
    assert scim.get(f"/Users/{member.pk}").status_code == 404
    assert scim.delete(f"/Users/{member.pk}").status_code == 404
    assert User.objects.filter(email="bob@acme.example").exists()
    assert AuditEvent.objects.filter(action="membership.remove", target_id=str(member.pk)).exists()


def test_owner_cannot_be_deactivated_or_deleted(scim, owner):
    for response in (
        scim.patch(f"/Users/{owner.pk}", patch_body({"op": "replace", "value": {"active": False}})),
        scim.put(f"/Users/{owner.pk}", {**scim.get(f"/Users/{owner.pk}").json(), "active": False}),
        scim.delete(f"/Users/{owner.pk}"),
    ):
        assert response.status_code == 403
        assert response.json()["status"] == "403"
        assert "ownership must be transferred" in response.json()["detail"]
    owner.refresh_from_db()
    assert owner.active and owner.role == OrgRole.OWNER


def test_retried_post_after_failure_does_not_409(scim, org, monkeypatch):
    from scim import provisioning

    def boom(*args, **kwargs):
        raise RuntimeError("engine down")

    monkeypatch.setattr(provisioning, "_attach_emails", boom)  # after every INSERT
    failed = scim.post("/Users", new_user("retry@x.com"))
    assert failed.status_code == 500
    assert failed.json()["schemas"] == [ERROR_SCHEMA]
    assert not User.objects.filter(email="retry@x.com").exists()
    monkeypatch.undo()
    assert scim.post("/Users", new_user("retry@x.com")).status_code == 201
    assert MembershipEmail.objects.filter(value="retry@x.com").count() == 1


def test_users_and_trailing_slash_both_work(scim):
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users/").status_code == 200


def test_entra_manager_id_is_stored_as_complex_value(scim, member):
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "42"}))
    assert response.json()[ENTERPRISE] == {"manager": {"value": "42"}}
