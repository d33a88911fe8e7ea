"""Nothing is ever silently changed: every writable attribute, sent too long or
with a type other than the published schema's, is refused with 400
invalidValue on POST, PUT and PATCH, and the stored record stays byte for byte
what it was. A write's response shows what was stored; PATCH `remove` follows
what /Schemas says (RFC 7644 §3.5.2.2)."""
from __future__ import annotations

import json

import pytest

from organizations.models import Membership, MembershipEmail, User
from scim.api import limits
from scim.models import ScimGroup, ScimGroupMember

from .helpers import ENTERPRISE, ERROR_SCHEMA, GROUP_SCHEMA, new_user, patch_body

pytestmark = pytest.mark.django_db

OBJECT = {"nested": "value"}

# (attribute as /Schemas names it, PATCH path, how to put a value into a full body)
USER_STRINGS = [
    ("userName", "userName", lambda b, v: b.update(userName=v)),
    ("externalId", "externalId", lambda b, v: b.update(externalId=v)),
    ("displayName", "displayName", lambda b, v: b.update(displayName=v)),
    *[
        (f"name.{sub}", f"name.{sub}", lambda b, v, sub=sub: b["name"].update({sub: v}))
        for sub in ("givenName", "familyName", "middleName", "formatted", "honorificPrefix", "honorificSuffix")
    ],
    ("emails.value", 'emails[type eq "work"].value', lambda b, v: b["emails"][0].update(value=v)),
    ("emails.type", 'emails[type eq "work"].type', lambda b, v: b["emails"][0].update(type=v)),
    ("emails.display", 'emails[type eq "work"].display', lambda b, v: b["emails"][0].update(display=v)),
    *[
        (f"{ENTERPRISE}:{attr}", f"{ENTERPRISE}:{attr}", lambda b, v, attr=attr: b[ENTERPRISE].update({attr: v}))
        for attr in ("employeeNumber", "costCenter", "organization", "division", "department")
    ],
    *[
        (f"{ENTERPRISE}:manager.{sub}", f"{ENTERPRISE}:manager.{sub}",
         lambda b, v, sub=sub: b[ENTERPRISE]["manager"].update({sub: v}))
        for sub in ("value", "$ref")
    ],
]
USER_BOOLEANS = [
    ("active", "active", lambda b, v: b.update(active=v)),
    ("emails.primary", 'emails[type eq "work"].primary', lambda b, v: b["emails"][0].update(primary=v)),
]


def too_long(attribute: str) -> str:
    limit = limits.USER_LIMITS[attribute]
    if attribute in ("userName", "emails.value"):
        return "a" * (limit - 9) + "@x.example"  # still an e-mail, one character too long
    return "x" * (limit + 1)


def bad_values():
    """(attribute, PATCH path, setter, value, what the detail must say) for every case."""
    for attribute, path, setter in USER_STRINGS:
        yield attribute, path, setter, too_long(attribute), f"at most {limits.USER_LIMITS[attribute]}"
        yield attribute, path, setter, 5, "must be a string, got number"
        yield attribute, path, setter, OBJECT, "must be a string, got object"
    for attribute, path, setter in USER_BOOLEANS:
        for value in (1, "maybe", OBJECT):
            yield attribute, path, setter, value, "must be a boolean"


def full_body(user_name: str = "jane@acme.example") -> dict:
    body = new_user(user_name)
    body["name"].update(middleName="Q", formatted="Jane Q Doe")
    body["schemas"].append(ENTERPRISE)
    body[ENTERPRISE] = {"department": "Sales", "employeeNumber": "7", "manager": {"value": "42"}}
    body["externalId"] = "ext-jane"
    return body


def stored(pk: int) -> str:
    """Everything stored about a membership and its account, as one string."""
    m = Membership.objects.filter(pk=pk).values().get()
    emails = list(MembershipEmail.objects.filter(membership_id=pk).order_by("pk").values())
    account = User.objects.filter(pk=m["user_id"]).values("email", "first_name", "last_name").get()
    return json.dumps([m, emails, account], default=str, sort_keys=True)


def assert_invalid_value(response, *words: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    doc = response.json()
    assert doc["schemas"] == [ERROR_SCHEMA] and doc["scimType"] == "invalidValue", doc
    for word in words:
        assert word in doc["detail"], doc["detail"]


def test_every_bad_value_is_refused_on_post_and_nothing_is_written(scim):
    before = (Membership.objects.count(), User.objects.count(), MembershipEmail.objects.count())
    for attribute, _, setter, value, message in bad_values():
        body = full_body()
        setter(body, value)
        assert_invalid_value(scim.post("/Users", body), f'"{attribute}"', message)
    assert (Membership.objects.count(), User.objects.count(), MembershipEmail.objects.count()) == before


def test_every_bad_value_is_refused_on_put_and_the_record_is_unchanged(scim):
    created = scim.post("/Users", full_body()).json()
    pk = int(created["id"])
    snapshot = stored(pk)
    for attribute, _, setter, value, message in bad_values():
        body = full_body()
        setter(body, value)
        assert_invalid_value(scim.put(f"/Users/{pk}", body), f'"{attribute}"', message)
        assert stored(pk) == snapshot, attribute
    assert scim.get(f"/Users/{pk}").json() == created


def test_every_bad_value_is_refused_on_patch_and_the_record_is_unchanged(scim):
    created = scim.post("/Users", full_body()).json()
    pk = int(created["id"])
    snapshot = stored(pk)
    for attribute, path, _, value, message in bad_values():
        for op in ("replace", "add"):
            response = scim.patch(f"/Users/{pk}", patch_body({"op": op, "path": path, "value": value}))
            assert_invalid_value(response, f'"{attribute}"', message)
            assert stored(pk) == snapshot, (attribute, op)
    # path-less, as Okta and Entra send them
    for body in (
        {"op": "replace", "value": {"displayName": "d" * 256}},
        {"op": "replace", "value": {"name.givenName": 7}},
        {"op": "replace", "value": {"active": "no"}},
        {"op": "replace", "value": {f"{ENTERPRISE}:department": ["Sales"]}},
        {"op": "add", "value": {"emails": [{"value": {"address": "x@y.z"}}]}},
    ):
        assert_invalid_value(scim.patch(f"/Users/{pk}", patch_body(body)))
        assert stored(pk) == snapshot, body


def test_wrongly_shaped_complex_attributes_are_refused(scim):
    for key, value in (("name", "Jane Doe"), ("emails", "jane@acme.example"), ("emails", [5]), (ENTERPRISE, "x")):
        body = full_body()
        body[key] = value
        assert_invalid_value(scim.post("/Users", body), "must be")
    body = full_body()
    body[ENTERPRISE]["manager"] = 42
    assert_invalid_value(scim.post("/Users", body), "manager", "must be an object")
    assert not Membership.objects.filter(scim_username="jane@acme.example").exists()


def test_values_at_the_limit_are_stored_whole_and_shown(scim):
    body = full_body("u" * 255)  # not an e-mail: the account is found by the e-mail below
    body["emails"][0]["value"] = "a" * 244 + "@x.example"  # 254 characters
    body["displayName"] = "d" * 255
    body["name"]["middleName"] = "m" * 255
    body[ENTERPRISE]["department"] = "s" * 255
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.content
    doc = created.json()
    assert doc["userName"] == body["userName"] and doc["displayName"] == "d" * 255
    assert doc["name"]["middleName"] == "m" * 255 and doc[ENTERPRISE]["department"] == "s" * 255
    assert scim.get(f"/Users/{doc['id']}").json() == doc


def test_a_write_response_is_what_a_read_returns(scim):
    body = full_body()
    body[ENTERPRISE]["Division"] = "Cloud"  # attribute names are case-insensitive: stored as the schema names it
    body[ENTERPRISE]["manager"]["displayName"] = "Boss"  # readOnly: ignored
    shoe = {**body, ENTERPRISE: {**body[ENTERPRISE], "shoeSize": "44"}}  # not in the schema: refused
    refused = scim.post("/Users", shoe)
    assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
    assert "shoeSize" in refused.json()["detail"]
    created = scim.post("/Users", body)
    doc = created.json()
    assert doc[ENTERPRISE] == {"division": "Cloud", "department": "Sales", "employeeNumber": "7", "manager": {"value": "42"}}
    assert scim.get(f"/Users/{doc['id']}").json() == doc
    put = scim.put(f"/Users/{doc['id']}", {**body, "emails": []})
    # emails is required: a replace without any shows (and stores) the account's
    assert put.json()["emails"] == [{"value": "jane@acme.example", "primary": True, "type": "work"}]
    assert scim.get(f"/Users/{doc['id']}").json() == put.json()
    patched = scim.patch(f"/Users/{doc['id']}", patch_body({"op": "add", "path": "name.honorificPrefix", "value": "Dr."}))
    assert patched.json()["name"]["honorificPrefix"] == "Dr."
    assert scim.get(f"/Users/{doc['id']}").json() == patched.json()


# -- PATCH remove (RFC 7644 §3.5.2.2) -------------------------------------------------------

OPTIONAL = [
    ("externalId", lambda d: "externalId" in d),
    ("displayName", lambda d: "displayName" in d),
    ("name.middleName", lambda d: "middleName" in d.get("name", {})),
    ("name.givenName", lambda d: "givenName" in d.get("name", {})),
    ("name", lambda d: "name" in d),
    ('emails[type eq "home"]', lambda d: len(d["emails"]) == 2),
    (f"{ENTERPRISE}:department", lambda d: "department" in d.get(ENTERPRISE, {})),
    (f"{ENTERPRISE}:manager", lambda d: "manager" in d.get(ENTERPRISE, {})),
    (f"{ENTERPRISE}:manager.value", lambda d: "manager" in d.get(ENTERPRISE, {})),
    (ENTERPRISE, lambda d: ENTERPRISE in d),
]


@pytest.mark.parametrize(("path", "present"), OPTIONAL)
def test_patch_remove_of_an_optional_attribute_leaves_it_unassigned(scim, path, present):
    body = full_body()
    body["emails"].append({"value": "jane@home.example", "type": "home"})
    doc = scim.post("/Users", body).json()
    assert present(doc)
    response = scim.patch(f"/Users/{doc['id']}", patch_body({"op": "remove", "path": path}))
    assert response.status_code == 200, response.content
    assert not present(response.json())
    assert scim.get(f"/Users/{doc['id']}").json() == response.json()


@pytest.mark.parametrize("path", ["active", "userName", "emails", 'emails[type eq "work"]'])
def test_patch_remove_of_a_required_attribute_is_mutability_as_schemas_says(scim, path):
    schema = {a["name"]: a for a in scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()["attributes"]}
    assert schema[path.partition("[")[0]]["required"] is True
    doc = scim.post("/Users", full_body()).json()
    snapshot = stored(int(doc["id"]))
    response = scim.patch(f"/Users/{doc['id']}", patch_body({"op": "remove", "path": path}))
    assert response.status_code == 400 and response.json()["scimType"] == "mutability", response.content
    assert stored(int(doc["id"])) == snapshot


# -- Groups ---------------------------------------------------------------------------------

GROUP_BAD = [
    ("displayName", "x" * (limits.GROUP_LIMITS["displayName"] + 1), "at most 255"),
    ("displayName", 5, "must be a string, got number"),
    ("displayName", OBJECT, "must be a string, got object"),
    ("externalId", "x" * (limits.GROUP_LIMITS["externalId"] + 1), "at most 255"),
    ("externalId", 5, "must be a string, got number"),
    ("externalId", OBJECT, "must be a string, got object"),
]


def group_state(pk: int) -> str:
    group = ScimGroup.objects.filter(pk=pk).values().get()
    members = sorted(ScimGroupMember.objects.filter(group_id=pk).values_list("membership_id", flat=True))
    return json.dumps([group, members], default=str, sort_keys=True)


def test_bad_group_values_are_refused_on_post_put_and_patch_and_nothing_changes(scim, member):
    good = {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "externalId": "g-1", "members": [{"value": str(member.pk)}]}
    pk = int(scim.post("/Groups", good).json()["id"])
    snapshot = group_state(pk)
    for attribute, value, message in GROUP_BAD:
        bad = {**good, attribute: value, "displayName": "Other" if attribute != "displayName" else value}
        assert_invalid_value(scim.post("/Groups", bad), f'"{attribute}"', message)
        assert_invalid_value(scim.put(f"/Groups/{pk}", {**good, attribute: value}), f'"{attribute}"', message)
        for operation in ({"op": "replace", "path": attribute, "value": value}, {"op": "replace", "value": {attribute: value}}):
            assert_invalid_value(scim.patch(f"/Groups/{pk}", patch_body(operation)), f'"{attribute}"', message)
        assert group_state(pk) == snapshot
    for members in ([{"value": member.pk}], [{"value": OBJECT}], ["12"], 5):
        assert_invalid_value(scim.put(f"/Groups/{pk}", {**good, "members": members}), "members")
        assert_invalid_value(scim.patch(f"/Groups/{pk}", patch_body({"op": "add", "path": "members", "value": members})), "members")
        assert group_state(pk) == snapshot
    assert ScimGroup.objects.count() == 1
    removed = scim.patch(f"/Groups/{pk}", patch_body({"op": "remove", "path": "displayName"}))
    assert removed.status_code == 400 and removed.json()["scimType"] == "mutability"
    assert group_state(pk) == snapshot


# -- filters over HTTP (RFC 7644 §3.4.2.2) ---------------------------------------------------


def test_filters_follow_the_rfc_grammar_and_reach_every_published_attribute(scim):
    doc = scim.post("/Users", full_body()).json()

    def found(filter_string):
        response = scim.get("/Users", {"filter": filter_string})
        assert response.status_code == 200, response.content
        return [u["id"] for u in response.json()["Resources"]]

    for quoted in ("userName eq 'jane@acme.example'", "userName eq jane@acme.example"):
        response = scim.get("/Users", {"filter": quoted})
        assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter", quoted
    assert found("name.middleName pr") == [doc["id"]]
    assert found(f'{ENTERPRISE}:department eq "Sales"') == [doc["id"]]
    assert found(f'{ENTERPRISE}:costCenter eq "x"') == []  # never set: matches nothing
    assert found(f"{ENTERPRISE}:manager.value pr") == [doc["id"]]
    assert found('userName eq "jane@acme.example" and name.honorificSuffix pr') == []
    unknown = scim.get("/Users", {"filter": 'nickName eq "x"'})
    assert unknown.status_code == 400 and unknown.json()["scimType"] == "invalidFilter"
    assert scim.get("/Users", {"sortBy": f"{ENTERPRISE}:department"}).status_code == 200
