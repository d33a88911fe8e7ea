"""The shared builders (tests/builders.py) make what the services make.

bulk_members inserts in bulk for scale tests; a member it builds has the same
rows (account, membership, e-mail, audit entries) as one the service builds
with the same values. The other builders call the services themselves: set_active
is the SCIM API's path, whose signal makes the access engine re-derive access."""
from __future__ import annotations

import re

import pytest

from organizations import services
from organizations.models import AuditEvent, Membership, OrgRole
from scim import provisioning
from tests import builders

pytestmark = pytest.mark.django_db


def rows_of(membership: Membership) -> dict:
    """Every column of the member's rows, its e-mail address, externalId number
    and row ids, times and password hash left out (they differ by construction)."""
    m = Membership.objects.select_related("user").get(pk=membership.pk)

    def clean(value):
        if isinstance(value, str):
            return re.sub(r"^ext-\d+$", "ext-<n>", value.replace(m.user.email, "<email>"))
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    def columns(obj, *skip: str) -> dict:
        return {f.attname: clean(getattr(obj, f.attname)) for f in obj._meta.concrete_fields if f.attname not in skip}

    events = AuditEvent.objects.filter(target_type=Membership._meta.label_lower, target_id=str(m.pk)).order_by("pk")
    return {
        "account": {
            **columns(m.user, "id", "password", "date_joined", "last_login"),
            "usable_password": m.user.has_usable_password(),
        },
        "membership": columns(m, "id", "user_id", "created_at", "updated_at"),
        "emails": [columns(e, "id", "membership_id") for e in m.email_set.order_by("pk")],
        "audit": [columns(e, "id", "target_id", "created_at") for e in events],
    }


def by_hand(org, email: str, *, role: str, active: bool) -> Membership:
    membership = services.add_member(org, email, role=role, first_name="Given0", last_name="Personfamily", actor=None)
    if not active:
        membership = services.set_member_active(membership, False, actor=None)
    return membership


def by_scim_push(org, email: str, *, active: bool, external_id: str) -> Membership:
    profile = provisioning.UserProfile(
        user_name=email, external_id=external_id, given_name="Given0", family_name="Personfamily",
        emails=[{"value": email, "type": "work", "primary": True}], active=active,
    )
    return provisioning.provision_user(org, profile, actor=None)


@pytest.mark.parametrize(
    "role, active",
    [(OrgRole.MEMBER, True), (OrgRole.ADMIN, True), (OrgRole.MEMBER, False)],
)
def test_a_bulk_member_has_the_rows_of_a_member_added_by_hand(org, role, active):
    [bulk] = builders.bulk_members(org, 1, role=role, active=active)
    made = by_hand(org, "someone@example.com", role=role, active=active)
    assert rows_of(bulk) == rows_of(made)


@pytest.mark.parametrize("active", [True, False])
def test_a_bulk_scim_member_has_the_rows_of_a_member_a_scim_push_made(org, active):
    org.invite_provisioned_members = False  # the invitation e-mail is the signal's work, which bulk inserts skip
    org.save(update_fields=["invite_provisioned_members"])
    [bulk] = builders.bulk_members(org, 1, scim_managed=True, active=active)
    made = by_scim_push(org, "someone@example.com", active=active, external_id="ext-12")
    assert rows_of(bulk) == rows_of(made)


def test_the_comparison_sees_a_difference(org):
    """rows_of is not blind: a member made with another role differs."""
    [bulk] = builders.bulk_members(org, 1)
    made = by_hand(org, "someone@example.com", role=OrgRole.ADMIN, active=True)
    assert rows_of(bulk) != rows_of(made)


def test_bulk_members_refuse_what_no_service_makes(org):
    with pytest.raises(ValueError):
        builders.bulk_members(org, 1, scim_managed=True, role=OrgRole.ADMIN)
    with pytest.raises(ValueError):
        builders.bulk_members(org, 1, role=OrgRole.OWNER)


def test_set_active_takes_the_scim_path_and_its_signal(org, plain_member):
    web = builders.make_stack(org, "Web")
    group = builders.make_group(org, "Engineering", [plain_member])
    builders.map_group(org, group, "admin", {web: "Developer"})
    builders.set_active(plain_member, False)
    assert AuditEvent.objects.filter(action="scim.user.deactivate", target_id=str(plain_member.pk)).exists()
    # the access engine heard it (membership_active_changed) and dropped what the group granted
    assert (builders.role_of(plain_member), builders.access_of(plain_member)) == (OrgRole.MEMBER, set())
    builders.set_active(plain_member, True)
    assert (builders.role_of(plain_member), builders.access_of(plain_member)) == (OrgRole.ADMIN, {("Web", "Developer")})


def test_group_builders_take_the_scim_path(org, plain_member):
    group = builders.make_group(org, "Engineering")
    builders.join_group(group, plain_member)
    builders.leave_group(group, plain_member)
    builders.delete_group(group)
    actions = list(AuditEvent.objects.filter(action__startswith="scim.group.").order_by("pk").values_list("action", flat=True))
    assert actions == ["scim.group.create", "scim.group.members", "scim.group.members", "scim.group.delete"]
