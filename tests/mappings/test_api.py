"""GET /api/orgs/<org_uid>/access/: the access report over REST."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from organizations import services as org_services
from organizations.models import Membership
from tests import builders
from tests.builders import builtin, make_group, map_group

pytestmark = pytest.mark.django_db


def url(org) -> str:
    return f"/api/orgs/{org.uid}/access/"


@pytest.fixture
def api():
    return APIClient()


def test_owner_gets_every_member_with_roles_groups_and_sources(api, org, owner, plain_member):
    web = builders.make_stack(org, "Web")
    org_services.grant_stack_role(plain_member, web, builtin("Admin"), actor=None)
    map_group(org, make_group(org, "Engineering", [plain_member]), "admin", {web: "Developer"})
    api.force_authenticate(owner.user)
    response = api.get(url(org))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    by_email = {row["email"]: row for row in body["results"]}
    assert by_email[plain_member.user.email] == {
        "id": plain_member.pk,
        "email": plain_member.user.email,
        "userName": plain_member.scim_username,
        "active": True,
        "org_role": "admin",
        "manual_role": "member",
        "org_role_sources": {"owner": False, "manual": False, "groups": ["Engineering"]},
        "stack_roles": {"Web": ["Admin", "Developer"]},
        "stack_role_sources": {
            "Web": {
                "Admin": {"manual": True, "groups": []},
                "Developer": {"manual": False, "groups": ["Engineering"]},
            }
        },
        "groups": ["Engineering"],
        "mapped_groups": ["Engineering"],
    }
    assert by_email[owner.user.email]["org_role_sources"] == {"owner": True, "manual": False, "groups": []}


def test_token_auth_works(api, org, admin_member):
    token = Token.objects.create(user=admin_member.user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(url(org)).status_code == 200


def test_anonymous_is_refused(api, org):
    assert api.get(url(org)).status_code in (401, 403)


def test_plain_member_and_other_orgs_owner_get_404(api, org, other_org, plain_member):
    api.force_authenticate(plain_member.user)
    assert api.get(url(org)).status_code == 404
    api.force_authenticate(builders.owner_of(other_org).user)
    assert api.get(url(org)).status_code == 404
    assert api.get("/api/orgs/no-such-org/access/").status_code == 404


def test_deactivated_admin_gets_404(api, org, admin_member):
    Membership.objects.filter(pk=admin_member.pk).update(active=False)
    api.force_authenticate(admin_member.user)
    assert api.get(url(org)).status_code == 404


def test_the_endpoint_is_read_only(api, org, owner):
    api.force_authenticate(owner.user)
    assert api.post(url(org), {}).status_code == 405
    assert api.delete(url(org)).status_code == 405


def test_large_orgs_are_paginated_in_a_constant_number_of_queries(api, org, owner, django_assert_max_num_queries):
    from tests.builders import bulk_members

    members = bulk_members(org, 30)
    make_group(org, "All", members)
    api.force_authenticate(owner.user)
    with django_assert_max_num_queries(12):
        first = api.get(url(org), {"page_size": 10}).json()
    assert first["count"] == 31 and len(first["results"]) == 10 and first["next"]
    with django_assert_max_num_queries(12):
        last = api.get(url(org), {"page_size": 10, "page": 4}).json()
    assert len(last["results"]) == 1
    with django_assert_max_num_queries(12):
        everyone = api.get(url(org), {"page_size": 100}).json()
    assert len(everyone["results"]) == 31
