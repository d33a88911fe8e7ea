"""Auth, content types, error envelopes, discovery and URLs of the SCIM API."""
from __future__ import annotations

import json
import logging

import pytest

from .helpers import ENTERPRISE, ERROR_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, base_path, new_user

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/Users", "/Groups", "/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User"]


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/scim+json"
    doc = json.loads(response.content)
    assert doc["schemas"] == [ERROR_SCHEMA]
    assert doc["status"] == str(status)
    assert doc["detail"]
    if scim_type:
        assert doc["scimType"] == scim_type
    return doc


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer wrong", "Basic dXNlcjpwYXNz", "Token odk_abcdefgh_xyz", "bearer odk_00000000_nope"]
)
def test_every_endpoint_needs_a_valid_bearer_token(client, org, scim, path, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(base_path(org) + path, **extra)
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bearer_scheme_is_case_insensitive(client, org, scim):
    response = client.get(base_path(org) + "/Users", HTTP_AUTHORIZATION=f"bearer {scim.token}")
    assert response.status_code == 200


@pytest.mark.parametrize("content_type", ["application/json", "application/scim+json; charset=utf-8", "application/json;charset=UTF-8"])
def test_json_content_types_are_accepted(scim, content_type):
    response = scim.send("post", "/Users", new_user("ct@x.com"), content_type=content_type)
    assert response.status_code == 201


def test_other_content_type_is_415(scim):
    assert_scim_error(scim.send("post", "/Users", "userName=x", content_type="application/x-www-form-urlencoded"), 415)


def test_body_over_limit_is_413_before_reading(scim, settings):
    settings.SCIM_MAX_BODY_BYTES = 100
    body = new_user("big@x.com", displayName="x" * 200)
    assert_scim_error(scim.post("/Users", body), 413)


def test_unknown_route_and_wrong_method_are_scim_json(scim, org, client):
    assert_scim_error(scim.get("/Nope"), 404)
    assert_scim_error(client.get(f"/scim/v2/organizations/{org.uid}"), 404)
    assert_scim_error(client.get("/scim/v2/whatever"), 404)
    response = scim.send("post", "/ServiceProviderConfig", {})
    assert_scim_error(response, 405)
    assert response["Allow"] == "GET"
    assert_scim_error(scim.send("put", "/Users", {}), 405)
    assert_scim_error(scim.delete("/Groups"), 405)
    assert_scim_error(scim.get("/Bulk"), 501)


def test_unexpected_error_is_500_scim_json_and_nothing_leaks(scim, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("scim.api.user_rows.page", boom)
    with caplog.at_level(logging.ERROR):
        doc = assert_scim_error(scim.get("/Users"), 500)
    assert "secret" not in doc["detail"]


def test_service_provider_config(scim, org):
    doc = scim.get("/ServiceProviderConfig").json()
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert doc["patch"] == {"supported": True}
    assert doc["bulk"]["supported"] is False
    assert doc["changePassword"] == {"supported": False}
    assert doc["etag"] == {"supported": True}
    assert doc["sort"] == {"supported": True}
    assert doc["filter"]["supported"] is True
    assert [s["type"] for s in doc["authenticationSchemes"]] == ["oauthbearertoken"]
    assert doc["meta"]["location"] == f"http://127.0.0.1:8000{base_path(org)}/ServiceProviderConfig"


def test_resource_types_and_schemas_describe_what_is_implemented(scim, org):
    base = f"http://127.0.0.1:8000{base_path(org)}"
    types = scim.get("/ResourceTypes").json()
    assert types["totalResults"] == 2
    by_id = {t["id"]: t for t in types["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["User"]["schema"] == USER_SCHEMA
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_id["Group"]["meta"]["location"] == f"{base}/ResourceTypes/Group"
    assert scim.get("/ResourceTypes/User").json() == by_id["User"]
    assert_scim_error(scim.get("/ResourceTypes/Nope"), 404)

    schemas = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}
    assert set(schemas) == {USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE}
    user_attrs = {a["name"]: a for a in schemas[USER_SCHEMA]["attributes"]}
    assert set(user_attrs) == {"userName", "name", "displayName", "active", "emails", "groups"}
    assert {s["name"] for s in user_attrs["name"]["subAttributes"]} == {
        "formatted", "givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix"
    }
    # a membership always has a state and a userName: required, so never removable
    assert user_attrs["active"]["required"] is True and user_attrs["userName"]["required"] is True
    assert user_attrs["userName"]["description"].endswith("At most 255 characters.")
    assert user_attrs["userName"]["caseExact"] is False and user_attrs["userName"]["uniqueness"] == "server"
    group_attrs = {a["name"]: a for a in schemas[GROUP_SCHEMA]["attributes"]}
    assert set(group_attrs) == {"displayName", "members"}
    assert schemas[USER_SCHEMA]["meta"]["location"] == f"{base}/Schemas/{USER_SCHEMA}"
    assert scim.get(f"/Schemas/{GROUP_SCHEMA}").json()["id"] == GROUP_SCHEMA
    assert_scim_error(scim.get("/Schemas/urn:nope"), 404)


def test_every_location_is_absolute_and_in_this_org(scim, org, settings):
    settings.PUBLIC_BASE_URL = "https://orgdesk.example"
    base = f"https://orgdesk.example/scim/v2/organizations/{org.uid}"
    user = scim.post("/Users", new_user("loc@x.com"))
    uid = user.json()["id"]
    assert user["Location"] == user.json()["meta"]["location"] == f"{base}/Users/{uid}"
    group = scim.post("/Groups", {"displayName": "Loc", "members": [{"value": uid}]})
    gid = group.json()["id"]
    assert group["Location"] == group.json()["meta"]["location"] == f"{base}/Groups/{gid}"
    assert group.json()["members"][0]["$ref"] == f"{base}/Users/{uid}"
    got = scim.get(f"/Users/{uid}")
    assert got["Location"] == f"{base}/Users/{uid}"
    assert got.json()["groups"] == [{"value": gid, "$ref": f"{base}/Groups/{gid}", "display": "Loc", "type": "direct"}]
    assert scim.put(f"/Users/{uid}", new_user("loc@x.com"))["Location"] == f"{base}/Users/{uid}"
    assert scim.get("/Users").json()["Resources"][-1]["meta"]["location"] == f"{base}/Users/{uid}"
    assert scim.get(f"/Groups/{gid}")["Location"] == f"{base}/Groups/{gid}"
    assert scim.get("/ServiceProviderConfig").json()["meta"]["location"] == f"{base}/ServiceProviderConfig"


def test_request_log_has_fields_but_no_token_or_body(scim, org, caplog):
    with caplog.at_level(logging.INFO, logger="orgdesk.scim"):
        scim.post("/Users", new_user("log@x.com", password="hunter2-secret"))
    records = [r for r in caplog.records if r.name == "orgdesk.scim"]
    assert records
    fields = records[-1].scim
    assert fields["org_uid"] == org.uid and fields["method"] == "POST" and fields["status"] == 201
    assert fields["installation_id"] and fields["path"].endswith("/Users") and fields["duration_ms"] >= 0
    text = " ".join(r.getMessage() for r in records)
    assert scim.token not in text and "hunter2" not in text and "log@x.com" not in text


@pytest.mark.parametrize(
    "exc, status",
    [
        ("outage", 503),
        ("conflict", 409),
        ("suspicious", 400),
        ("other", 500),
    ],
)
def test_one_error_path_answers_every_exception_in_scim_json(exc, status, rf):
    from django.core.exceptions import SuspiciousOperation
    from django.db import OperationalError

    from scim.api.errors import Conflict, response_for_exception

    raised = {
        "outage": OperationalError("gone"),
        "conflict": Conflict("taken"),
        "suspicious": SuspiciousOperation("too many fields"),
        "other": RuntimeError("secret internals"),
    }[exc]
    response = response_for_exception(rf.get("/scim/v2/organizations/x/Users"), raised)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/scim+json")
    assert "secret" not in response.content.decode()
    assert ("Retry-After" in response) == (status == 503)
