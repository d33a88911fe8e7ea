"""Org A's token never reads or changes anything of org B."""
from __future__ import annotations

import pytest

from organizations.models import Membership
from scim.models import ScimGroup, ScimGroupMember
from .helpers import SEARCH_SCHEMA, ScimClient, new_user, patch_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def b_data(other_scim, other_org):
    user = other_scim.post("/Users", new_user("victim@b.com", externalId="ext-b")).json()["id"]
    group = other_scim.post("/Groups", {"displayName": "B team", "members": [{"value": user}]}).json()["id"]
    return user, group


def test_a_token_on_b_url_is_401(scim, other_org, b_data):
    intruder = ScimClient(other_org, scim.token, scim.client)
    for response in (intruder.get("/Users"), intruder.get(f"/Users/{b_data[0]}"), intruder.get("/ServiceProviderConfig")):
        assert response.status_code == 401


def test_lists_and_filters_never_show_b(scim, owner, b_data):
    users = scim.get("/Users", {"count": 100}).json()
    assert [r["id"] for r in users["Resources"]] == [str(owner.pk)]
    for f in (
        'userName eq "victim@b.com"',
        'userName eq "nobody" or userName eq "victim@b.com"',
        'externalId eq "ext-b" or id pr',
        f'id eq "{b_data[0]}"',
        'not (userName eq "nobody")',
    ):
        ids = [r["id"] for r in scim.get("/Users", {"filter": f}).json()["Resources"]]
        assert b_data[0] not in ids, f
    assert scim.get("/Groups").json()["totalResults"] == 0
    assert scim.get("/Groups", {"filter": 'displayName eq "B team" or displayName pr'}).json()["totalResults"] == 0
    search = scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'userName eq "victim@b.com" or userName pr'})
    assert b_data[0] not in [r["id"] for r in search.json()["Resources"]]
    assert scim.post("/Groups/.search", {"schemas": [SEARCH_SCHEMA]}).json()["totalResults"] == 0


def test_get_put_patch_delete_of_b_ids_are_404_and_change_nothing(scim, b_data):
    user, group = b_data
    assert scim.get(f"/Users/{user}").status_code == 404
    assert scim.put(f"/Users/{user}", new_user("stolen@a.com")).status_code == 404
    assert scim.patch(f"/Users/{user}", patch_body({"op": "replace", "value": {"active": False}})).status_code == 404
    assert scim.delete(f"/Users/{user}").status_code == 404
    assert scim.get(f"/Groups/{group}").status_code == 404
    assert scim.put(f"/Groups/{group}", {"displayName": "pwned", "members": []}).status_code == 404
    assert scim.patch(f"/Groups/{group}", patch_body({"op": "remove", "path": "members"})).status_code == 404
    assert scim.delete(f"/Groups/{group}").status_code == 404
    victim = Membership.objects.get(pk=user)
    assert victim.active and victim.scim_username == "victim@b.com"
    assert ScimGroup.objects.get(pk=group).display_name == "B team"
    assert ScimGroupMember.objects.filter(group_id=group).count() == 1


def test_b_member_ids_cannot_join_a_group(scim, b_data):
    user, _ = b_data
    assert scim.post("/Groups", {"displayName": "A", "members": [{"value": user}]}).status_code == 400
    gid = scim.post("/Groups", {"displayName": "A"}).json()["id"]
    for body in (
        patch_body({"op": "add", "path": "members", "value": [{"value": user}]}),
        patch_body({"op": "replace", "value": {"members": [{"value": user}]}}),
    ):
        assert scim.patch(f"/Groups/{gid}", body).status_code == 400
    assert scim.put(f"/Groups/{gid}", {"displayName": "A", "members": [{"value": user}]}).status_code == 400
    assert not ScimGroupMember.objects.filter(group_id=gid).exists()


def test_same_person_in_two_orgs_is_two_independent_users(scim, other_scim, org, other_org):
    a = scim.post("/Users", new_user("same@x.com", name={"givenName": "A", "familyName": "A"})).json()
    b = other_scim.post("/Users", new_user("same@x.com", name={"givenName": "B", "familyName": "B"})).json()
    assert a["id"] != b["id"]
    other_scim.patch(f"/Users/{b['id']}", patch_body({"op": "replace", "value": {"active": False, "name.givenName": "Bee"}}))
    again = scim.get(f"/Users/{a['id']}").json()
    assert again["active"] is True and again["name"]["givenName"] == "A"


def test_disabled_scim_or_revoked_token_is_401(scim, org):
    from django.utils import timezone

    org.scim_enabled = False
    org.save()
    assert scim.get("/Users").status_code == 401
    org.scim_enabled = True
    org.save()
    assert scim.get("/Users").status_code == 200
    org.app_installations.update(uninstalled_at=timezone.now())
    assert scim.get("/Users").status_code == 401


def test_unknown_org_is_401_not_404(scim):
    response = scim.client.get("/scim/v2/organizations/doesnotexist123/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}")
    assert response.status_code == 401
    assert response.json()["status"] == "401"
