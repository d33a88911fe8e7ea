"""Group mapping driven by real SCIM requests against a live server, in the wire
format Okta and Entra send (docs/ARCHITECTURE.md, "Where each IdP quirk is handled"):
push a group with a member, map it, then membership changes, deprovisioning and
group deletion over SCIM change the member's access."""
from __future__ import annotations

import httpx
import pytest

from mappings.models import GroupMapping
from mappings.services import save_mapping
from organizations.models import AccessSource, Membership, Organization, OrgRole, StackAccess
from scim.models import AppInstallation, MarketplaceApp, ScimGroup
from scim.tokens import issue_token
from tests import builders
from tests.builders import builtin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Idp:
    """A minimal IdP: plain HTTP with the org's bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON, "Accept": SCIM_JSON},
            timeout=15,
        )

    def post(self, path: str, body: dict) -> dict:
        response = self.http.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, path: str, *operations: dict) -> None:
        response = self.http.patch(path, json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)})
        assert response.status_code in (200, 204), response.text

    def delete(self, path: str) -> None:
        response = self.http.delete(path)
        assert response.status_code == 204, response.text


def held(membership_id: int) -> tuple[str, bool, set[tuple[str, str]]]:
    membership = Membership.objects.get(pk=membership_id)
    rows = StackAccess.objects.filter(membership=membership, source=AccessSource.SCIM)
    return membership.role, membership.active, set(rows.values_list("stack__name", "role__name"))


@pytest.fixture
def scim_org(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    org = builders.make_org("Acme E2E")
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    org.refresh_from_db()
    app, _ = MarketplaceApp.objects.get_or_create(
        slug="okta-generic-scim", defaults={"name": "Okta Generic SCIM", "vendor": "Okta", "summary": "SCIM"}
    )
    installation = AppInstallation.objects.create(organization=org, app=app)
    return org, installation, issue_token(installation).secret


def test_scim_pushed_group_mapping_follows_membership_and_deprovisioning(live_server, scim_org):
    org, installation, token = scim_org
    builders.make_stack(org, "Web")
    idp = Idp(f"{live_server.url}/scim/v2/organizations/{org.uid}", token)

    jane = idp.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA],
            "userName": "jane@acme.example",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"primary": True, "value": "jane@acme.example", "type": "work"}],
            "active": True,
        },
    )
    jane_id = int(jane["id"])
    # Okta Push Groups: create empty, then add members with a PATCH.
    group = idp.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []})
    group_path = f"/Groups/{group['id']}"
    idp.patch(group_path, {"op": "add", "path": "members", "value": [{"value": jane["id"], "display": "jane@acme.example"}]})
    assert held(jane_id) == (OrgRole.MEMBER, True, set())  # no mapping yet

    # The admin maps the group (the same service the SCIM tab calls).
    web = org.stacks.get(name="Web")
    save_mapping(
        org,
        ScimGroup.objects.get(pk=group["id"]),
        org_role=OrgRole.ADMIN,
        stack_roles={web: builtin("Developer")},
        all_stacks_role=None,
        actor=None,
    )
    assert held(jane_id) == (OrgRole.ADMIN, True, {("Web", "Developer")})

    # Okta removes the member: members[value eq "..."] (sent with a rename, as Okta does).
    idp.patch(
        group_path,
        {"op": "replace", "value": {"id": group["id"], "displayName": "Engineering"}},
        {"op": "remove", "path": f'members[value eq "{jane["id"]}"]'},
    )
    assert held(jane_id) == (OrgRole.MEMBER, True, set())

    # Entra adds her back with a capitalised op.
    idp.patch(group_path, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": jane["id"]}]})
    assert held(jane_id) == (OrgRole.ADMIN, True, {("Web", "Developer")})

    # Deprovisioning: no access at once, the record stays; reactivation restores it.
    idp.patch(f"/Users/{jane['id']}", {"op": "replace", "path": "active", "value": False})
    assert held(jane_id) == (OrgRole.MEMBER, False, set())
    idp.patch(f"/Users/{jane['id']}", {"op": "Replace", "path": "active", "value": "True"})
    assert held(jane_id) == (OrgRole.ADMIN, True, {("Web", "Developer")})

    # Deleting the group in the IdP takes its mapping and what it granted.
    idp.delete(group_path)
    assert not GroupMapping.objects.filter(organization=org).exists()
    assert held(jane_id) == (OrgRole.MEMBER, True, set())
