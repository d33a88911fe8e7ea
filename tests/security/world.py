"""Two organizations with every role, each with the objects an attacker could aim
at (members, stacks, roles, SCIM groups, a mapping, an app installation with a
token, audit entries). Org B's names carry MARKER so a test can assert that no
page shown to someone outside B ever mentions them."""
from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework.authtoken.models import Token

from mappings import services as mapping_services
from organizations import services
from organizations.models import Membership, Organization, OrgRole, Stack, StackRole, User
from scim import provisioning
from scim.models import AppInstallation, ScimGroup
from tests import builders

MARKER = "zq7victim"  # appears in every name of the victim org's objects


@dataclass
class OrgObjects:
    org: Organization
    owner: Membership
    admin: Membership
    member: Membership
    stack: Stack
    role: StackRole
    group: ScimGroup
    mapping_id: int
    installation: AppInstallation
    token: str
    users: dict[str, User] = field(default_factory=dict)


def build_org(name: str, prefix: str, marker: str = "") -> OrgObjects:
    org = builders.make_org(f"{name} {marker}".strip(), owner_email=f"{prefix}.owner{marker}@example.com")
    owner = builders.owner_of(org)
    admin = builders.make_member(org, f"{prefix}.admin{marker}@example.com", role=OrgRole.ADMIN)
    member = builders.make_member(org, f"{prefix}.member{marker}@example.com")
    stack = services.create_stack(org, f"{prefix} stack {marker}", actor=None)
    role = services.create_stack_role(org, f"{prefix} role {marker}", actor=None)
    installation, token = builders.enable_scim(org, "okta-generic-scim")
    group = provisioning.create_group(org, f"{prefix} group {marker}", member_ids=[member.pk], actor=installation)
    mapping = mapping_services.save_mapping(
        org, group, org_role=OrgRole.MEMBER, stack_roles={stack: role}, all_stacks_role=None, actor=None
    )
    return OrgObjects(
        org=org, owner=owner, admin=admin, member=member, stack=stack, role=role, group=group,
        mapping_id=mapping.pk, installation=installation, token=token,
        users={"owner": owner.user, "admin": admin.user, "member": member.user},
    )


@dataclass
class World:
    a: OrgObjects
    b: OrgObjects
    outsider: User

    def org(self, key: str) -> OrgObjects:
        return {"a": self.a, "b": self.b}[key]

    def user(self, who: str) -> User | None:
        """`a_owner`, `a_admin`, `a_member`, `b_admin`, ..., `outsider`, `anonymous` (None)."""
        if who == "anonymous":
            return None
        if who == "outsider":
            return self.outsider
        org_key, role = who.split("_", 1)
        return self.org(org_key).users[role]


def build_world() -> World:
    a = build_org("Alpha", "alpha")
    b = build_org("Bravo", "bravo", MARKER)
    outsider, _ = services.get_or_create_account("outsider@example.com")
    outsider.set_password(builders.PASSWORD)
    outsider.save()
    return World(a=a, b=b, outsider=outsider)


def api_token(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key
