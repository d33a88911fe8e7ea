"""Listing, filtering, paging and sorting of Users and Groups."""
from __future__ import annotations

import pytest

from .helpers import LIST_SCHEMA, SEARCH_SCHEMA, new_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_users(scim, owner):
    return [scim.post("/Users", new_user(f"user{i}@x.com", externalId=f"ext{i}")).json()["id"] for i in range(5)]


def ids(response) -> list[str]:
    return [r["id"] for r in response.json()["Resources"]]


def test_okta_connector_test_and_list_shape(scim, owner, five_users):
    response = scim.get("/Users", {"startIndex": 1, "count": 2})
    doc = response.json()
    assert response.status_code == 200
    assert doc["schemas"] == [LIST_SCHEMA]
    assert doc["totalResults"] == 6 and doc["startIndex"] == 1 and doc["itemsPerPage"] == 2
    assert ids(response) == [str(owner.pk), five_users[0]]
    groups = scim.get("/Groups", {"startIndex": 1, "count": 100}).json()
    assert groups == {"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


def test_import_paging_is_stable_and_complete(scim, owner, five_users):
    seen = []
    start = 1
    while True:
        doc = scim.get("/Users", {"startIndex": start, "count": 2}).json()
        seen += [r["id"] for r in doc["Resources"]]
        start += 2
        if start > doc["totalResults"]:
            break
    assert seen == [str(owner.pk), *five_users]


def test_count_zero_startindex_below_one_and_clamp(scim, settings, five_users):
    doc = scim.get("/Users", {"count": 0}).json()
    assert doc["totalResults"] == 6 and doc["Resources"] == [] and doc["itemsPerPage"] == 0
    assert scim.get("/Users", {"startIndex": 0, "count": 1}).json()["startIndex"] == 1
    assert scim.get("/Users", {"startIndex": -5, "count": 1}).json()["itemsPerPage"] == 1
    settings.SCIM_MAX_PAGE_SIZE = 3
    assert scim.get("/Users", {"count": 500}).json()["itemsPerPage"] == 3
    assert scim.get("/Users", {"startIndex": 100}).json()["Resources"] == []
    assert scim.get("/Users", {"count": "lots"}).status_code == 400


def test_max_results_advertised(scim, settings):
    settings.SCIM_MAX_PAGE_SIZE = 77
    config = scim.get("/ServiceProviderConfig").json()
    assert config["filter"] == {"supported": True, "maxResults": 77}
    assert config["sort"] == {"supported": True}


def test_filters_okta_entra_onelogin(scim, five_users):
    def found(f):
        response = scim.get("/Users", {"filter": f})
        assert response.status_code == 200, response.content
        return ids(response)

    assert found('userName eq "USER1@x.com"') == [five_users[1]]
    assert found('externalId eq "ext2"') == [five_users[2]]
    assert found('emails[type eq "work"].value eq "user3@x.com"') == [five_users[3]]
    assert found('userName eq "7f1c0b9e-0000-4000-8000-000000000000"') == []
    assert found('userName eq "user1@x.com" or userName eq "user4@x.com"') == [five_users[1], five_users[4]]


def test_unknown_filter_attribute_is_invalid_filter(scim):
    response = scim.get("/Users", {"filter": 'shoeSize eq "9"'})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert scim.get("/Users", {"filter": 'userName eq "x'}).json()["scimType"] == "invalidFilter"


def test_sort_by_username_descending(scim, owner, five_users):
    response = scim.get("/Users", {"sortBy": "userName", "sortOrder": "descending", "count": 3})
    assert [r["userName"] for r in response.json()["Resources"]] == ["user4@x.com", "user3@x.com", "user2@x.com"]


def test_users_search_and_groups_search(scim, five_users):
    scim.post("/Groups", {"displayName": "Eng"})
    response = scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'userName sw "user"', "startIndex": 2, "count": 2, "attributes": ["userName"]})
    assert response.status_code == 200
    doc = response.json()
    assert doc["totalResults"] == 5 and ids(response) == five_users[1:3]
    assert set(doc["Resources"][0]) == {"schemas", "id", "userName"}
    groups = scim.post("/Groups/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'displayName eq "eng"', "excludedAttributes": ["members"]})
    assert groups.json()["totalResults"] == 1 and "members" not in groups.json()["Resources"][0]
    assert scim.post("/Users/.search", {"schemas": ["urn:wrong"]}).status_code == 400


def test_root_search_is_501_scim_json(scim):
    response = scim.post("/.search", {"schemas": [SEARCH_SCHEMA]})
    assert response.status_code == 501
    assert response.json()["status"] == "501"


def test_groups_filter_by_display_name_with_excluded_members(scim):
    scim.post("/Groups", {"displayName": "Engineering"})
    scim.post("/Groups", {"displayName": "Sales"})
    response = scim.get("/Groups", {"filter": 'displayName eq "Engineering"', "excludedAttributes": "members", "startIndex": 1, "count": 100})
    doc = response.json()
    assert doc["totalResults"] == 1
    assert doc["Resources"][0]["displayName"] == "Engineering" and "members" not in doc["Resources"][0]
