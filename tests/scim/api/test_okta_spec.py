"""Okta's published "SCIM 2.0 SPEC Test", step by step with the requests Okta
sends, against an org as it is: a freshly created org whose only member is the
Owner, and an org whose members were added by hand. Every membership is a
complete SCIM user (name, e-mail, userName), whoever created it."""
from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from organizations import services
from organizations.models import Membership, MembershipEmail, Organization
from tests.builders import enable_scim

from .helpers import ERROR_SCHEMA, LIST_SCHEMA, USER_SCHEMA, ScimClient, patch_body

pytestmark = pytest.mark.django_db


def fresh_org_by_command() -> Organization:
    """What a new customer does: `create_org`, then SCIM on and an app installed."""
    out = io.StringIO()
    call_command(
        "create_org", "Acme", "--owner", "owner@acme.test", "--password", "pw-acme-0123456789",
        "--owner-first-name", "Olive", "--owner-last-name", "Owner", stdout=out,
    )
    return Organization.objects.get(uid=out.getvalue().strip().splitlines()[-1])


def org_with_members_added_by_hand() -> Organization:
    """The Owner's account predates names being asked for (no name on the account),
    members were added by hand, one of them without a name either."""
    org = services.create_organization("Hand Co", owner_email="boss@hand.test", actor=None)
    services.add_member(org, "ada@hand.test", first_name="Ada", last_name="Lovelace", actor=None)
    services.add_member(org, "grace@hand.test", first_name="Grace", last_name="Hopper", actor=None)
    owner = Membership.objects.get(organization=org, role="owner")
    owner.user.first_name, owner.user.last_name = "Bea", "Boss"  # named later, in the admin
    owner.user.save()
    Membership.objects.filter(pk=owner.pk).update(given_name="", family_name="")
    MembershipEmail.objects.filter(membership=owner).delete()
    _complete_profiles()  # what the migration does for memberships made before this release
    return org


def _complete_profiles() -> None:
    from importlib import import_module

    from django.apps import apps

    import_module("organizations.migrations.0008_complete_scim_profiles").complete_profiles(apps, None)


def client_for(org: Organization) -> ScimClient:
    _, secret = enable_scim(org)
    return ScimClient(org, secret, Client())


def assert_complete_user(user: dict) -> None:
    """What Okta's SPEC test and its import require of every user it reads."""
    assert user["id"] and user["userName"] and isinstance(user["active"], bool)
    assert user["name"]["givenName"] and user["name"]["familyName"]
    assert user["emails"][0]["value"]


def run_okta_spec_test(scim: ScimClient) -> None:
    # 1. the first user of the first page
    listing = scim.get("/Users", {"count": 1, "startIndex": 1})
    assert listing.status_code == 200
    page = listing.json()
    assert page["schemas"] == [LIST_SCHEMA] and page["itemsPerPage"] == 1 and page["startIndex"] == 1
    first = page["Resources"][0]
    assert_complete_user(first)
    # 2. the same user by id
    by_id = scim.get(f"/Users/{first['id']}")
    assert by_id.status_code == 200
    assert_complete_user(by_id.json())
    assert by_id.json() == first
    # 3. an unknown userName: an empty list
    unknown = scim.get("/Users", {"filter": f'userName eq "{uuid.uuid4()}@spec.test"', "startIndex": 1, "count": 100})
    assert unknown.status_code == 200 and unknown.json()["totalResults"] == 0 and unknown.json()["Resources"] == []
    # 4. an unknown id: 404 SCIM error
    missing = scim.get(f"/Users/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == [ERROR_SCHEMA] and missing.json()["detail"]
    # 5.-6. a random user: not found, then created
    user_name = f"{uuid.uuid4().hex}@spec.test"
    assert scim.get("/Users", {"filter": f'userName eq "{user_name}"'}).json()["totalResults"] == 0
    body = {
        "schemas": [USER_SCHEMA], "userName": user_name, "name": {"givenName": "Spec", "familyName": "Test"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}], "displayName": "Spec Test",
        "locale": "en-US", "externalId": "00u1spec", "groups": [], "password": "1mP@ssw0rd", "active": True,
    }
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.content
    doc = created.json()
    assert doc["userName"] == user_name and doc["active"] is True and "password" not in doc
    assert doc["name"] == {"givenName": "Spec", "familyName": "Test"}
    # 7. read back
    assert scim.get(f"/Users/{doc['id']}").json() == doc
    # 8. the same again: 409 uniqueness
    again = scim.post("/Users", body)
    assert again.status_code == 409 and again.json()["schemas"] == [ERROR_SCHEMA]
    # 9. userName is case-insensitive
    found = scim.get("/Users", {"filter": f'userName eq "{user_name.upper()}"'}).json()
    assert [u["id"] for u in found["Resources"]] == [doc["id"]]
    # deactivate (OIN PATCH), then a wizard app's PUT reactivates
    off = scim.patch(f"/Users/{doc['id']}", patch_body({"op": "replace", "value": {"active": False}}))
    assert off.status_code == 200 and off.json()["active"] is False
    assert scim.get(f"/Users/{doc['id']}").json()["active"] is False
    on = scim.put(f"/Users/{doc['id']}", {**scim.get(f"/Users/{doc['id']}").json(), "active": True})
    assert on.status_code == 200 and on.json()["active"] is True


def test_okta_spec_test_passes_on_a_fresh_org_whose_only_member_is_the_owner():
    org = fresh_org_by_command()
    scim = client_for(org)
    owner = scim.get("/Users", {"count": 1, "startIndex": 1}).json()["Resources"][0]
    assert owner["userName"] == "owner@acme.test"
    assert owner["name"] == {"givenName": "Olive", "familyName": "Owner"}
    assert owner["emails"] == [{"value": "owner@acme.test", "primary": True, "type": "work"}]
    run_okta_spec_test(scim)


def test_okta_spec_test_passes_on_an_org_whose_members_were_added_by_hand():
    org = org_with_members_added_by_hand()
    scim = client_for(org)
    run_okta_spec_test(scim)
    # Okta's import reads every user and matches people by e-mail
    users = scim.get("/Users", {"startIndex": 1, "count": 100}).json()["Resources"]
    for user in users:
        assert_complete_user(user)
    by_name = {u["userName"]: u for u in users}
    assert by_name["boss@hand.test"]["name"] == {"givenName": "Bea", "familyName": "Boss"}
    assert by_name["ada@hand.test"]["emails"] == [{"value": "ada@hand.test", "primary": True, "type": "work"}]


def test_filters_sorting_and_paging_see_what_the_documents_show():
    org = org_with_members_added_by_hand()
    scim = client_for(org)

    def ids(**params):
        response = scim.get("/Users", params)
        assert response.status_code == 200, response.content
        return [u["userName"] for u in response.json()["Resources"]]

    assert ids(filter='emails.value eq "BOSS@hand.test"') == ["boss@hand.test"]
    assert ids(filter='emails[type eq "work" and primary eq true].value ew "@hand.test"') == [
        "boss@hand.test", "ada@hand.test", "grace@hand.test"
    ]
    assert ids(filter='name.givenName eq "bea"') == ["boss@hand.test"]
    assert ids(filter="name.familyName pr and emails pr") == ["boss@hand.test", "ada@hand.test", "grace@hand.test"]
    assert ids(sortBy="name.familyName") == ["boss@hand.test", "grace@hand.test", "ada@hand.test"]
    assert ids(sortBy="emails", sortOrder="descending", count=1, startIndex=2) == ["boss@hand.test"]
    # the ORM path (sorted) and the plain-SQL path (pages by id) render the same documents
    by_sql = scim.get("/Users", {"count": 10}).json()["Resources"]
    by_orm = scim.get("/Users", {"count": 10, "sortBy": "id"}).json()["Resources"]
    by_filter = scim.get("/Users", {"count": 10, "filter": "id pr"}).json()["Resources"]
    assert by_sql == by_orm == by_filter


def test_create_org_keeps_working_without_names_and_prints_the_uid_last():
    out = io.StringIO()
    call_command("create_org", "Plain", "--owner", "plain@acme.test", stdout=out)
    uid = out.getvalue().strip().splitlines()[-1]
    owner = Membership.objects.get(organization__uid=uid)
    assert list(owner.email_set.values_list("value", "type", "primary")) == [("plain@acme.test", "work", True)]
    assert owner.scim_username == "plain@acme.test"
