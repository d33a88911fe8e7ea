"""Replays, over HTTP against a live server, the request sequences identity
providers send (docs/ARCHITECTURE.md, "Where each IdP quirk is handled"): Okta (connector test, import, create,
profile update, deactivate/reactivate in the catalog PATCH and wizard PUT forms,
group push in both forms, rename, delete), Entra ID's dialect and OneLogin."""
from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest

from organizations.models import Membership, User
from scim.models import ScimGroup, ScimGroupMember
from tests import builders
from tests.scim.api.helpers import ENTERPRISE, ERROR_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, PATCH_SCHEMA, USER_SCHEMA

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def idp(live_server, settings):
    """An httpx client for one org's SCIM base URL, with a real token."""
    base = live_server.url.replace("localhost", "127.0.0.1")
    settings.PUBLIC_BASE_URL = base
    org = builders.make_org("Replay")
    _, secret = builders.enable_scim(org)
    with httpx.Client(
        base_url=f"{base}/scim/v2/organizations/{org.uid}",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"},
        timeout=30,
    ) as client:
        client.org = org
        yield client


def okta_user(user_name: str, **extra) -> dict:
    local = user_name.split("@")[0].capitalize()
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": local, "familyName": "Doe"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{local} Doe",
        "locale": "en-US",
        "externalId": f"00u{uuid.uuid4().hex[:8]}",
        "groups": [],
        "password": "placeholder",
        "active": True,
    }
    body.update(extra)
    return body


def patch(*ops: dict) -> dict:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(ops)}


def lookup(idp, attr_filter: str, **params) -> dict:
    response = idp.get(f"/Users?filter={quote(attr_filter)}&startIndex=1&count=100", params=params or None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/scim+json"
    doc = response.json()
    assert doc["schemas"] == [LIST_SCHEMA]
    return doc


def okta_create(idp, user_name: str) -> dict:
    assert lookup(idp, f'userName eq "{user_name}"')["totalResults"] == 0
    response = idp.post("/Users", json=okta_user(user_name))
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["id"] and doc["userName"] == user_name and doc["active"] is True
    assert response.headers["location"] == doc["meta"]["location"]
    assert doc["meta"]["location"].startswith(str(idp.base_url).rstrip("/") + "/Users/")
    return doc


def test_okta_connector_test(idp):
    users = idp.get("/Users?startIndex=1&count=2")
    assert users.status_code == 200
    doc = users.json()
    assert doc["schemas"] == [LIST_SCHEMA]
    assert isinstance(doc["totalResults"], int) and doc["totalResults"] == 1  # the Owner
    assert doc["startIndex"] == 1 and doc["itemsPerPage"] == 1
    groups = idp.get("/Groups?startIndex=1&count=100").json()
    assert groups == {"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


def test_okta_create_import_and_duplicate(idp):
    created = [okta_create(idp, f"jane{i}@x.com")["id"] for i in range(5)]
    assert lookup(idp, 'userName eq "JANE3@x.com"')["Resources"][0]["id"] == created[3]
    again = idp.post("/Users", json=okta_user("Jane0@X.com"))
    assert again.status_code == 409
    assert again.json()["scimType"] == "uniqueness" and again.json()["status"] == "409"
    # Import: pages of 2 until totalResults.
    seen, start = [], 1
    while True:
        page = idp.get(f"/Users?startIndex={start}&count=2").json()
        seen += [r["id"] for r in page["Resources"]]
        start += 2
        if start > page["totalResults"]:
            break
    assert seen[1:] == created and len(seen) == 6
    assert Membership.objects.filter(organization=idp.org).count() == 6


def test_okta_profile_update_get_then_put(idp):
    user = okta_create(idp, "pat@x.com")
    current = idp.get(f"/Users/{user['id']}").json()
    current["name"]["familyName"] = "Smith"
    current["displayName"] = "Pat Smith"
    current["groups"] = [{"value": "123"}]
    response = idp.put(f"/Users/{user['id']}", json=current)
    assert response.status_code == 200
    assert response.json()["name"]["familyName"] == "Smith" and response.json()["id"] == user["id"]
    m = Membership.objects.get(pk=user["id"])
    assert (m.family_name, m.display_name) == ("Smith", "Pat Smith")


def test_okta_deactivate_reactivate_catalog_patch_and_wizard_put(idp):
    user = okta_create(idp, "dee@x.com")
    url = f"/Users/{user['id']}"
    off = idp.patch(url, json=patch({"op": "replace", "value": {"active": False}}))
    assert off.status_code == 200 and off.json()["active"] is False
    assert Membership.objects.get(pk=user["id"]).active is False
    assert idp.get(url).json()["active"] is False  # still readable
    on = idp.patch(url, json=patch({"op": "replace", "value": {"active": True}}))
    assert on.json()["active"] is True
    body = idp.get(url).json()
    body["active"] = False
    assert idp.put(url, json=body).json()["active"] is False
    assert Membership.objects.get(pk=user["id"]).active is False
    body["active"] = True
    assert idp.put(url, json=body).json()["active"] is True
    assert Membership.objects.get(pk=user["id"]).active is True


def group_members(gid) -> set[str]:
    return {str(i) for i in ScimGroupMember.objects.filter(group_id=gid).values_list("membership_id", flat=True)}


def test_okta_group_push_catalog_patch_form(idp):
    jane, joe = okta_create(idp, "jane@x.com")["id"], okta_create(idp, "joe@x.com")["id"]
    found = idp.get("/Groups?filter=" + quote('displayName eq "Engineering"') + "&startIndex=1&count=100").json()
    assert found["totalResults"] == 0
    created = idp.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []})
    assert created.status_code == 201
    gid = created.json()["id"]
    url = f"/Groups/{gid}"
    add = idp.patch(url, json=patch(
        {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
        {"op": "add", "path": "members", "value": [{"value": jane, "display": "jane@x.com"}]},
    ))
    assert add.status_code == 204 and group_members(gid) == {jane}
    swap = idp.patch(url, json=patch(
        {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
        {"op": "remove", "path": f'members[value eq "{jane}"]'},
        {"op": "add", "path": "members", "value": [{"value": joe, "display": "joe@x.com"}]},
    ))
    assert swap.status_code == 204 and group_members(gid) == {joe}
    assert idp.patch(url, json=patch({"op": "replace", "path": "members", "value": [{"value": jane}, {"value": joe}]})).status_code == 204
    assert group_members(gid) == {jane, joe}
    assert idp.patch(url, json=patch({"op": "replace", "value": {"members": [{"value": jane}]}})).status_code == 204
    assert group_members(gid) == {jane}
    rename = idp.patch(url, json=patch({"op": "replace", "value": {"id": gid, "displayName": "Engineering EU"}}))
    assert rename.status_code == 204
    assert idp.get(url).json()["displayName"] == "Engineering EU"
    deleted = idp.delete(url)
    assert deleted.status_code == 204
    missing = idp.get(url)
    assert missing.status_code == 404 and missing.json()["schemas"] == [ERROR_SCHEMA]
    assert not ScimGroup.objects.filter(pk=gid).exists()
    assert Membership.objects.filter(pk__in=[jane, joe]).count() == 2


def test_okta_group_push_wizard_put_form(idp):
    jane, joe = okta_create(idp, "jane@x.com")["id"], okta_create(idp, "joe@x.com")["id"]
    gid = idp.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": []}).json()["id"]
    url = f"/Groups/{gid}"
    empty = idp.put(url, json={"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "Sales", "members": []})
    assert empty.status_code == 200 and empty.json()["members"] == []
    full = idp.put(url, json={"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "Sales", "members": [{"value": jane, "display": "jane@x.com"}, {"value": joe}]})
    assert full.status_code == 200
    assert {m["value"] for m in full.json()["members"]} == {jane, joe} == group_members(gid)
    renamed = idp.put(url, json={"schemas": [GROUP_SCHEMA], "displayName": "Sales EMEA", "members": [{"value": joe}]})
    assert renamed.json()["displayName"] == "Sales EMEA" and group_members(gid) == {joe}
    assert idp.delete(url).status_code == 204


def test_entra_dialect(idp):
    connection = lookup(idp, f'userName eq "{uuid.uuid4()}"')
    assert connection["totalResults"] == 0 and connection["Resources"] == []
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": "entra-guid-1",
        "userName": "ada@contoso.com",
        "active": "True",
        "displayName": "Ada L",
        "emails": [{"primary": True, "type": "work", "value": "ada@contoso.com"}],
        "name": {"givenName": "Ada", "familyName": "L"},
        ENTERPRISE: {"department": "R&D"},
    }
    created = idp.post("/Users", json=body)
    assert created.status_code == 201
    uid = created.json()["id"]
    assert created.json()[ENTERPRISE] == {"department": "R&D"}
    assert lookup(idp, "externalId eq entra-guid-1")["Resources"][0]["id"] == uid
    assert lookup(idp, 'externalId eq "entra-guid-1"')["totalResults"] == 1
    assert lookup(idp, 'emails[type eq "work"].value eq "ada@contoso.com"')["Resources"][0]["id"] == uid
    update = idp.patch(f"/Users/{uid}", json=patch(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.l@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Lovelace"},
        {"op": "Add", "value": {"name.givenName": "Augusta", f"{ENTERPRISE}:department": "Math"}},
    ))
    assert update.status_code == 200
    doc = update.json()
    assert doc["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}
    assert doc["emails"][0]["value"] == "ada.l@contoso.com"
    assert doc[ENTERPRISE]["department"] == "Math"
    off = idp.patch(f"/Users/{uid}", json=patch({"op": "Replace", "path": "active", "value": "False"}))
    assert off.status_code == 200 and off.json()["active"] is False
    assert Membership.objects.get(pk=uid).active is False
    idp.patch(f"/Users/{uid}", json=patch({"op": "Replace", "path": "active", "value": "True"}))

    gid = idp.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Contoso Eng", "externalId": "g-guid"}).json()["id"]
    found = idp.get("/Groups?filter=" + quote('displayName eq "Contoso Eng"') + "&excludedAttributes=members").json()
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]
    add = idp.patch(f"/Groups/{gid}", json=patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}))
    assert add.status_code == 204 and group_members(gid) == {uid}
    remove = idp.patch(f"/Groups/{gid}", json=patch({"op": "Remove", "path": "members", "value": [{"value": uid}]}))
    assert remove.status_code == 204 and group_members(gid) == set()

    gone = idp.delete(f"/Users/{uid}")
    assert gone.status_code == 204
    assert idp.get(f"/Users/{uid}").status_code == 404
    assert User.objects.filter(email__iexact="ada@contoso.com").exists()


def test_onelogin_connection_test_and_delete(idp):
    empty = lookup(idp, 'userName eq "nobody@onelogin.example"')
    assert empty["totalResults"] == 0
    uid = idp.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "ol@x.com", "emails": {"value": "ol@x.com"}}).json()["id"]
    assert idp.delete(f"/Users/{uid}").status_code == 204
    assert not Membership.objects.filter(pk=uid).exists()
    assert idp.get(f"/Users/{uid}").json()["status"] == "404"


def test_errors_are_scim_json_over_http(idp):
    wrong = httpx.get(str(idp.base_url).rstrip("/") + "/Users", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["schemas"] == [ERROR_SCHEMA]
    assert "bearer" in wrong.headers["www-authenticate"].lower()
    for response in (idp.get("/Nope"), idp.delete("/Users"), idp.post("/Users", content=b"{nope")):
        assert response.headers["content-type"] == "application/scim+json"
        assert response.json()["schemas"] == [ERROR_SCHEMA]
