"""The provisioning services the SCIM adapters call, used directly."""
from __future__ import annotations

import pytest

from organizations.models import AuditEvent
from organizations.services import OwnershipError
from scim import provisioning
from scim.provisioning import InvalidValue, UniquenessError, UserProfile
from tests.builders import enable_scim

pytestmark = pytest.mark.django_db


@pytest.fixture
def installation(org):
    return enable_scim(org)[0]


def test_owner_is_never_deactivated_or_deleted(owner, installation):
    with pytest.raises(OwnershipError):
        provisioning.set_membership_active(owner, False, actor=installation)
    with pytest.raises(OwnershipError):
        provisioning.delete_membership(owner, actor=installation)
    owner.refresh_from_db()
    assert owner.active


def test_provision_requires_an_email_and_a_free_username(org, installation, member):
    with pytest.raises(InvalidValue):
        provisioning.provision_user(org, UserProfile(user_name="nomail"), actor=installation)
    with pytest.raises(UniquenessError):
        provisioning.provision_user(org, UserProfile(user_name="BOB@acme.example"), actor=installation)


def test_deactivation_is_audited_with_the_installation_as_actor(member, installation):
    provisioning.set_membership_active(member, False, actor=installation)
    provisioning.set_membership_active(member, False, actor=installation)  # idempotent: one entry
    events = AuditEvent.objects.filter(action="scim.user.deactivate", target_id=str(member.pk))
    assert events.count() == 1
    assert events.get().actor_label.startswith(installation.app.name)
    provisioning.set_membership_active(member, True, actor=installation)
    member.refresh_from_db()
    assert member.active


def test_group_member_changes_return_the_diff(org, installation, member, owner):
    group = provisioning.create_group(org, "G", member_ids=[member.pk], actor=installation)
    assert provisioning.change_group_members(group, add=[owner.pk, member.pk], actor=installation) == ({owner.pk}, set())
    assert provisioning.change_group_members(group, remove=[member.pk], actor=installation) == (set(), {member.pk})
    assert provisioning.change_group_members(group, replace=[member.pk], actor=installation) == ({member.pk}, {owner.pk})
    assert provisioning.change_group_members(group, replace=[member.pk], actor=installation) == (set(), set())


def test_member_ids_of_another_org_are_refused(org, other_org):
    from tests import builders

    foreign = builders.make_member(other_org, "f@x.com")
    with pytest.raises(InvalidValue):
        provisioning.resolve_member_ids(org, [str(foreign.pk)])
    with pytest.raises(InvalidValue):
        provisioning.resolve_member_ids(org, ["not-a-number"])


def test_rename_to_same_name_in_other_case_is_allowed(org, installation):
    group = provisioning.create_group(org, "eng", actor=installation)
    provisioning.update_group(group, display_name="Eng", actor=installation)
    group.refresh_from_db()
    assert group.display_name == "Eng"
    provisioning.create_group(org, "Ops", actor=installation)
    with pytest.raises(UniquenessError):
        provisioning.update_group(group, display_name="OPS", actor=installation)
