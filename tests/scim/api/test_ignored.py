"""Nothing is dropped without a trace: an attribute Orgdesk
does not store is either on scim.api.ignored's list (the call succeeds and its
Provisioning activity entry names it) or refused (400 invalidPath for a PATCH
path, invalidValue for a body or a path-less PATCH value)."""
from __future__ import annotations

import pytest
from django_scim.schemas import default_schemas_getter

from organizations.models import Membership
from scim.api import ignored
from scim.api.discovery import GROUP_ATTRIBUTES, USER_ATTRIBUTES
from scim.models import ProvisioningEvent, ScimGroup
from tests.hardening.snapshot import snapshot

from .helpers import ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA, new_user, patch_body

pytestmark = pytest.mark.django_db

OKTA_CUSTOM = "urn:okta:orgdesk_1:1.0:user:custom"
ENTRA_CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def last_entry(org) -> ProvisioningEvent:
    return ProvisioningEvent.objects.filter(organization=org).latest("id")


def assert_refused(response, scim_type: str, name: str) -> None:
    assert response.status_code == 400, response.content
    doc = response.json()
    assert doc["scimType"] == scim_type and doc["status"] == "400", doc
    assert name in doc["detail"], doc


# --- the list against the RFC and /Schemas ------------------------------------------


def _rfc_attributes(schema_id: str) -> set[str]:
    return {a["name"] for s in default_schemas_getter() if s["id"] == schema_id for a in s["attributes"]}


COMMON = {"id", "meta", "schemas", "externalId"}  # RFC 7643 §3.1, in no schema document


@pytest.mark.parametrize(
    "schema_id, stored, ignored_, published",
    [
        (USER_SCHEMA, ignored.USER_STORED, ignored.USER_IGNORED, USER_ATTRIBUTES),
        (GROUP_SCHEMA, ignored.GROUP_STORED, ignored.GROUP_IGNORED, GROUP_ATTRIBUTES),
    ],
)
def test_every_core_attribute_is_stored_or_on_the_list_and_only_those(schema_id, stored, ignored_, published):
    rfc = _rfc_attributes(schema_id) | COMMON
    assert set(stored) | set(ignored_) == rfc
    assert not set(stored) & set(ignored_)
    # what /Schemas publishes is stored, except the read-only `groups` of a User
    assert set(published) - set(stored) <= {"groups"} and "groups" not in stored
    for name, subs in published.items():
        if subs and name in stored:
            assert set(subs) <= set(stored[name]), name


def test_every_enterprise_attribute_is_stored():
    rfc = _rfc_attributes(ENTERPRISE)
    assert set(ignored.ENTERPRISE_STORED) == rfc


# --- refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "nosuchattr",
        "name.nosuch",
        "emails.nosuch",
        'emails[nosuch eq "x"].value',
        'userName[value eq "x"]',
        "userName.first",
        f"{ENTERPRISE}:shoeSize",
        f"{ENTERPRISE}:manager.nosuch",
        f"{USER_SCHEMA}:nosuchattr",
        "members",  # a Group attribute
    ],
)
def test_a_patch_path_naming_no_attribute_is_invalid_path_and_changes_nothing(scim, member, path):
    before = snapshot()
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body({"op": "replace", "path": "displayName", "value": "Changed"}, {"op": "replace", "path": path, "value": 1}),
    )
    assert_refused(response, "invalidPath", path.rsplit(":", 1)[-1].split(".")[0].split("[")[0])
    assert snapshot() == before


def test_the_issue_example_is_400_not_a_silent_200(scim, member):
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "path": "nosuchattr", "value": 1}))
    assert_refused(response, "invalidPath", "nosuchattr")


@pytest.mark.parametrize("path", ["nosuchattr", "displayName.x", "members.nosuch", 'members[nosuch eq "1"]'])
def test_a_group_patch_path_naming_no_attribute_is_invalid_path(scim, org, path):
    group = ScimGroup.objects.create(organization=org, display_name="Eng")
    before = snapshot()
    response = scim.patch(f"/Groups/{group.pk}", patch_body({"op": "replace", "path": path, "value": "x"}))
    assert_refused(response, "invalidPath", path.split(".")[0].split("[")[0])
    assert snapshot() == before


@pytest.mark.parametrize("value", [{"nosuchattr": 1}, {"displayName": "X", "shoeSize": 44}, {"name.nosuch": "x"},
                                   {ENTERPRISE: {"shoeSize": 44}}, {"1abc": 2}])
def test_a_path_less_value_carrying_an_unknown_attribute_is_invalid_value(scim, member, value):
    before = snapshot()
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "value": value}))
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue", response.content
    assert snapshot() == before


def test_a_group_path_less_value_carrying_an_unknown_attribute_is_invalid_value(scim, org):
    group = ScimGroup.objects.create(organization=org, display_name="Eng")
    response = scim.patch(f"/Groups/{group.pk}", patch_body({"op": "replace", "value": {"displayName": "X", "colour": "red"}}))
    assert_refused(response, "invalidValue", "colour")
    assert ScimGroup.objects.get(pk=group.pk).display_name == "Eng"


def test_a_post_or_put_body_carrying_an_unknown_attribute_is_invalid_value_naming_it(scim, member):
    before = snapshot()
    assert_refused(scim.post("/Users", new_user("jane@x.com", shoeSize=44)), "invalidValue", "shoeSize")
    assert_refused(scim.put(f"/Users/{member.pk}", new_user(member.scim_username, givenName="B")), "invalidValue", "givenName")
    assert_refused(scim.post("/Groups", {"displayName": "G", "colour": "red"}), "invalidValue", "colour")
    assert snapshot() == before


# --- ignored, and named -------------------------------------------------------------


def test_okta_create_succeeds_and_names_what_it_ignored(scim, org):
    body = new_user("jane@x.com", locale="en-US", groups=[], password="1mP@ssw0rd", externalId="00u1")
    body[OKTA_CUSTOM] = {"costCode": "42"}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    entry = last_entry(org)
    assert entry.outcome == "success"
    assert entry.detail == f"ignored: locale, groups, password, {OKTA_CUSTOM}"
    assert "password" not in response.json()


def test_entra_patch_of_unkept_and_custom_attributes_succeeds_and_names_them(scim, org, member):
    response = scim.patch(
        f"/Users/{member.pk}",
        patch_body(
            {"op": "Replace", "path": "title", "value": "Engineer"},
            {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
            {"op": "Add", "path": f"{ENTRA_CUSTOM}:costCenterCode", "value": "7"},
            {"op": "Replace", "path": "preferredLanguage", "value": "en"},
            {"op": "Replace", "path": "displayName", "value": "Bob B"},
        ),
    )
    assert response.status_code == 200, response.content
    assert Membership.objects.get(pk=member.pk).display_name == "Bob B"
    assert last_entry(org).detail == f"ignored: title, phoneNumbers, {ENTRA_CUSTOM}:costCenterCode, preferredLanguage"


def test_password_patch_is_ignored_and_named(scim, org, member):
    response = scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "path": "password", "value": "x"}))
    assert response.status_code == 200
    assert last_entry(org).detail == "ignored: password"


def test_path_less_values_with_read_only_attributes_are_ignored_and_named(scim, org, member):
    response = scim.patch(
        f"/Users/{member.pk}", patch_body({"op": "replace", "value": {"id": "5", "locale": "fr", "active": True}})
    )
    assert response.status_code == 200 and response.json()["id"] == str(member.pk)
    assert last_entry(org).detail == "ignored: id, locale"


def test_okta_path_less_group_rename_names_the_ignored_id(scim, org):
    group = ScimGroup.objects.create(organization=org, display_name="Eng")
    response = scim.patch(f"/Groups/{group.pk}", patch_body({"op": "replace", "value": {"id": str(group.pk), "displayName": "Eng2"}}))
    assert response.status_code == 204
    assert ScimGroup.objects.get(pk=group.pk).display_name == "Eng2"
    assert last_entry(org).detail == "ignored: id"


def test_enterprise_manager_display_name_is_read_only_and_named(scim, org, member):
    body = new_user("jane@x.com", **{ENTERPRISE: {"manager": {"value": "42", "displayName": "Boss"}}})
    assert scim.post("/Users", body).status_code == 201
    assert last_entry(org).detail == f"ignored: {ENTERPRISE}:manager.displayName"


def test_core_attributes_given_by_their_urn_qualified_name_are_stored(scim, member):
    body = new_user(member.scim_username)
    body[f"{USER_SCHEMA}:displayName"] = body.pop("displayName")
    response = scim.put(f"/Users/{member.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Jane Doe"


def test_a_call_that_ignores_nothing_has_no_detail(scim, org, member):
    assert scim.patch(f"/Users/{member.pk}", patch_body({"op": "replace", "path": "displayName", "value": "B"})).status_code == 200
    assert last_entry(org).detail == ""
