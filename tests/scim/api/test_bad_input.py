"""Odd but possible input gets a SCIM error or a correct answer, never a 500,
and a refused request writes nothing."""
from __future__ import annotations

import pytest

from organizations.models import Membership
from scim.models import ScimGroup

from .helpers import new_user, patch_body
from .test_protocol import assert_scim_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["attributes=userName", "excludedAttributes=meta"])
def test_writes_answer_with_location_even_when_meta_is_left_out(scim, org, member, query):
    created = scim.post(f"/Users?{query}", new_user("ada@x.com"))
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created["Location"].endswith(f"/Users/{pk}")
    assert "meta" not in created.json()
    replaced = scim.put(f"/Users/{pk}?{query}", new_user("ada@x.com", displayName="Ada"))
    assert replaced.status_code == 200 and replaced["Location"].endswith(f"/Users/{pk}")
    patched = scim.patch(f"/Users/{member.pk}?{query}", patch_body({"op": "replace", "value": {"displayName": "B"}}))
    assert patched.status_code == 200 and patched["Location"].endswith(f"/Users/{member.pk}")
    gid = scim.post(f"/Groups?{query}", {"displayName": "Eng"}).json()["id"]
    renamed = scim.patch(f"/Groups/{gid}?{query}", patch_body({"op": "replace", "value": {"displayName": "R&D"}}))
    assert renamed.status_code == 200 and renamed["Location"].endswith(f"/Groups/{gid}")


def test_a_bad_query_string_on_a_write_is_refused_before_writing(scim, org, member):
    assert_scim_error(scim.post("/Users?count=abc", new_user("late@x.com")), 400)
    assert not Membership.objects.filter(organization=org, scim_username="late@x.com").exists()
    assert_scim_error(scim.patch(f"/Users/{member.pk}?startIndex=x", patch_body({"op": "replace", "value": {"active": False}})), 400)
    member.refresh_from_db()
    assert member.active


@pytest.mark.parametrize("raw", ["%C2%B2", "%D9%A1%D9%A2", "0", "-1", "1e3"])
def test_ids_that_are_not_ascii_digits_are_not_found(scim, org, member, raw):
    assert_scim_error(scim.get(f"/Users/{raw}"), 404)
    assert_scim_error(scim.get(f"/Groups/{raw}"), 404)


def test_member_values_that_are_not_ascii_digits_are_refused(scim, org, member):
    gid = scim.post("/Groups", {"displayName": "Eng"}).json()["id"]
    add = patch_body({"op": "add", "path": "members", "value": [{"value": "²"}, {"value": str(member.pk)}]})
    assert_scim_error(scim.patch(f"/Groups/{gid}", add), 400)
    assert not ScimGroup.objects.get(pk=gid).members.exists()  # nothing applied half-way
    remove = patch_body({"op": "remove", "path": 'members[value eq "²"]'})
    assert scim.patch(f"/Groups/{gid}", remove).status_code in (200, 204)


def test_a_huge_start_index_is_an_empty_page(scim, org, member):
    for path in ("/Users", "/Groups"):
        response = scim.get(path, {"startIndex": "99999999999999999999", "count": 10})
        assert response.status_code == 200, response.content
        assert response.json()["Resources"] == []


@pytest.mark.parametrize("value", ["\\u0000", "a\\u0000b", "\\ud800"])
def test_filter_strings_no_attribute_can_hold_are_invalid_filters(scim, org, value):
    assert_scim_error(scim.get("/Users", {"filter": f'userName eq "{value}"'}), 400, "invalidFilter")
    assert_scim_error(scim.get("/Groups", {"filter": f'displayName co "{value}"'}), 400, "invalidFilter")


@pytest.mark.parametrize("schemas", [5, True, "urn:ietf:params:scim:api:messages:2.0:SearchRequest"])
def test_a_search_whose_schemas_is_not_a_list_is_refused(scim, org, schemas):
    assert_scim_error(scim.post("/Users/.search", {"schemas": schemas, "count": 1}), 400)


def test_too_many_query_parameters_is_a_scim_400(scim, org, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"p{i}=1" for i in range(20))
    assert_scim_error(scim.get(f"/Users?{query}"), 400, "invalidSyntax")


def test_an_account_e_mail_longer_than_the_column_is_an_invalid_value(scim, org):
    name = "a" * 250 + "@x.example"
    assert_scim_error(scim.post("/Users", new_user(name)), 400, "invalidValue")
    assert not Membership.objects.filter(organization=org, scim_username=name).exists()


@pytest.mark.parametrize("attributes", ["members", "urn:ietf:params:scim:schemas:core:2.0:Group:members"])
def test_attributes_may_name_members_with_the_schema_urn(scim, org, member, attributes):
    gid = scim.post("/Groups", {"displayName": "Eng", "members": [{"value": str(member.pk)}]}).json()["id"]
    doc = scim.get(f"/Groups/{gid}", {"attributes": attributes}).json()
    assert [m["value"] for m in doc["members"]] == [str(member.pk)]
    user = scim.get(f"/Users/{member.pk}", {"attributes": "urn:ietf:params:scim:schemas:core:2.0:User:groups"}).json()
    assert [g["value"] for g in user["groups"]] == [gid]
