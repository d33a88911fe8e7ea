"""The access engine against the database: group mappings, SCIM events and
grants made by hand, applied by mappings.services."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mappings import services
from mappings.models import GroupMapping, RecomputeJob
from mappings.services import MappingError
from organizations import audit_actions
from organizations import services as org_services
from organizations.models import AccessSource, AuditEvent, OrgRole
from scim.models import ScimGroup
from tests import builders
from tests.builders import (
    access_of,
    builtin,
    bulk_members,
    delete_group,
    join_group,
    leave_group,
    make_group,
    map_group,
    role_of,
    set_active,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(org):
    return builders.make_stack(org, "Web")


@pytest.fixture
def api(org):
    return builders.make_stack(org, "API")


# --- mapping a group -----------------------------------------------------------


def test_mapping_a_group_grants_its_members_the_org_role_and_stack_roles(org, plain_member, web, owner):
    group = make_group(org, "Engineering", [plain_member])
    map_group(org, group, "admin", {web: "Developer"}, actor=owner.user)
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer")}


def test_several_groups_give_the_highest_role_and_the_union_of_stack_roles(org, plain_member, web, api):
    eng = make_group(org, "Engineering", [plain_member])
    ops = make_group(org, "Ops", [plain_member])
    map_group(org, eng, "member", {web: "Developer"})
    map_group(org, ops, "admin", {api: "Admin"})
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer"), ("API", "Admin")}


def test_leaving_a_group_removes_exactly_what_it_granted(org, plain_member, web, api):
    eng = make_group(org, "Engineering", [plain_member])
    ops = make_group(org, "Ops", [plain_member])
    map_group(org, eng, "member", {web: "Developer"})
    map_group(org, ops, "admin", {api: "Admin", web: "Developer"})
    leave_group(ops, plain_member)
    assert role_of(plain_member) == OrgRole.MEMBER
    assert access_of(plain_member) == {("Web", "Developer")}


def test_joining_a_mapped_group_grants_its_roles(org, plain_member, web):
    eng = make_group(org, "Engineering")
    map_group(org, eng, "admin", {web: "Developer"})
    join_group(eng, plain_member)
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer")}


def test_deleting_a_group_removes_its_mapping_and_the_access_it_granted(org, plain_member, web):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer"})
    delete_group(eng)
    assert not GroupMapping.objects.exists()
    assert role_of(plain_member) == OrgRole.MEMBER
    assert access_of(plain_member) == set()


def test_removing_a_mapping_removes_its_access_but_keeps_the_group(org, plain_member, web, owner):
    eng = make_group(org, "Engineering", [plain_member])
    mapping = map_group(org, eng, "admin", {web: "Developer"})
    services.delete_mapping(mapping, actor=owner.user)
    assert ScimGroup.objects.filter(pk=eng.pk).exists()
    assert role_of(plain_member) == OrgRole.MEMBER
    assert access_of(plain_member) == set()
    event = AuditEvent.objects.get(action=audit_actions.GROUP_MAPPING_DELETE)
    assert event.actor_label == owner.user.email
    assert event.before["group"] == "Engineering"


def test_updating_a_mapping_replaces_its_stack_roles(org, plain_member, web, api):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer", api: "Admin"})
    map_group(org, eng, "member", {api: "Content Manager"})
    assert GroupMapping.objects.count() == 1
    assert role_of(plain_member) == OrgRole.MEMBER
    assert access_of(plain_member) == {("API", "Content Manager")}


def test_deactivated_member_loses_all_access_and_reactivation_restores_it(org, plain_member, web):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer"})
    set_active(plain_member, False)
    assert role_of(plain_member) == OrgRole.MEMBER
    assert access_of(plain_member) == set()
    set_active(plain_member, True)
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer")}


def test_grants_made_by_hand_are_never_clobbered(org, plain_member, web):
    org_services.grant_stack_role(plain_member, web, builtin("Developer"), actor=None)
    org_services.change_role(plain_member, OrgRole.ADMIN, actor=None)
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "member", {web: "Developer"})
    leave_group(eng, plain_member)
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member, AccessSource.MANUAL) == {("Web", "Developer")}
    assert access_of(plain_member) == set()


def test_manual_role_change_is_re_derived_with_groups(org, plain_member):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin")
    org_services.change_role(plain_member, OrgRole.MEMBER, actor=None)
    assert role_of(plain_member) == OrgRole.ADMIN  # the group still grants Admin


def test_owner_is_never_changed_by_a_mapping(org, owner, web):
    eng = make_group(org, "Engineering", [owner])
    map_group(org, eng, "member", {web: "Admin"})
    assert role_of(owner) == OrgRole.OWNER
    assert access_of(owner) == {("Web", "Admin")}
    leave_group(eng, owner)
    assert role_of(owner) == OrgRole.OWNER


def test_all_stacks_mapping_covers_a_stack_created_later(org, plain_member, web):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "member", all_stacks="Content Manager")
    assert access_of(plain_member) == {("Web", "Content Manager")}
    builders.make_stack(org, "Docs")
    assert access_of(plain_member) == {("Web", "Content Manager"), ("Docs", "Content Manager")}


def test_custom_stack_roles_of_the_org_can_be_mapped(org, plain_member, web):
    reviewer = org_services.create_stack_role(org, "Reviewer", actor=None)
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "member", {web: reviewer})
    assert access_of(plain_member) == {("Web", "Reviewer")}


# --- refusals -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "superuser", ""])
def test_only_admin_or_member_can_be_mapped(org, role):
    eng = make_group(org, "Engineering")
    with pytest.raises(MappingError):
        map_group(org, eng, role)
    assert not GroupMapping.objects.exists()


def test_another_orgs_group_stack_or_role_is_refused(org, other_org, web):
    foreign_group = make_group(other_org, "Theirs")
    foreign_stack = builders.make_stack(other_org, "Their stack")
    foreign_role = org_services.create_stack_role(other_org, "Their role", actor=None)
    eng = make_group(org, "Engineering")
    with pytest.raises(MappingError, match="SCIM group"):
        map_group(org, foreign_group, "member")
    with pytest.raises(MappingError, match="stack"):
        map_group(org, eng, "member", {foreign_stack: "Admin"})
    with pytest.raises(MappingError, match="role"):
        map_group(org, eng, "member", {web: foreign_role})
    with pytest.raises(MappingError, match="role"):
        map_group(org, eng, "member", all_stacks=foreign_role)
    assert not GroupMapping.objects.exists()


# --- audit --------------------------------------------------------------------


def test_saving_a_mapping_audits_the_change_and_each_member_change(org, plain_member, web, owner):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer"}, actor=owner.user)
    created = AuditEvent.objects.get(action=audit_actions.GROUP_MAPPING_CREATE)
    assert created.before is None
    assert created.after == {
        "group": "Engineering",
        "org_role": "admin",
        "all_stacks_role": None,
        "stack_roles": {"Web": "Developer"},
    }
    recompute = AuditEvent.objects.get(action=audit_actions.ACCESS_RECOMPUTE, target_id=str(plain_member.pk))
    assert recompute.actor_label == owner.user.email
    assert recompute.before["role"] == "member" and recompute.after["role"] == "admin"


def test_saving_an_unchanged_mapping_writes_nothing(org, plain_member, web):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer"})
    count = AuditEvent.objects.count()
    map_group(org, eng, "admin", {web: "Developer"})
    assert AuditEvent.objects.count() == count


def test_recompute_of_unchanged_members_writes_nothing(org, plain_member, web):
    eng = make_group(org, "Engineering", [plain_member])
    map_group(org, eng, "admin", {web: "Developer"})
    assert services.recompute_memberships([plain_member.pk], actor=None) == 0


def test_recompute_skips_deleted_memberships(org):
    assert services.recompute_memberships([999_999], actor=None) == 0


# --- cost ---------------------------------------------------------------------


def _recompute_queries(org, members, group_names) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        changed = services.recompute_memberships([m.pk for m in members], actor=None)
    assert changed == len(members)
    return [q["sql"] for q in ctx.captured_queries]


def test_recomputing_a_batch_costs_the_same_queries_for_10_and_100_members(org, web, api, settings):
    settings.ACCESS_SYNC_LIMIT = 1000
    small, large = bulk_members(org, 10, prefix="s"), bulk_members(org, 100, prefix="l")
    eng = make_group(org, "Engineering", small + large)
    old = make_group(org, "Old", small + large)
    map_group(org, old, "member", {api: "Admin"})  # every member now holds API/Admin
    # Change the rules behind the engine's back so each member gains, loses and changes role.
    GroupMapping.objects.filter(group=old).delete()
    GroupMapping.objects.create(organization=org, group=eng, org_role="admin")
    GroupMapping.objects.get(group=eng).stack_roles.create(stack=web, role=builtin("Developer"))
    n_small = _recompute_queries(org, small, ["Engineering"])
    n_large = _recompute_queries(org, large, ["Engineering"])
    # Savepoint and release; the org; memberships locked; the org's mappings; the
    # members' groups and held grants (one statement); DELETE of the lost grants,
    # INSERT of the new ones, the role UPDATE; the audit entries (one statement,
    # on SQLite one executemany).
    assert len(n_small) == len(n_large) == 2 + 1 + 1 + 1 + 1 + 3 + 1, n_large
    assert {role_of(m) for m in large} == {OrgRole.ADMIN}
    assert access_of(large[0]) == {("Web", "Developer")}


# --- large changes go to a job --------------------------------------------------


def test_a_change_over_the_sync_limit_runs_as_a_job_after_commit(
    org, web, settings, django_capture_on_commit_callbacks
):
    settings.ACCESS_SYNC_LIMIT = 5
    members = bulk_members(org, 12, prefix="j")
    eng = make_group(org, "Engineering", members)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        map_group(org, eng, "admin", {web: "Developer"})
    job = RecomputeJob.objects.get()
    assert (job.status, job.total, job.done) == (RecomputeJob.Status.PENDING, 12, 0)
    assert role_of(members[0]) == OrgRole.MEMBER  # nothing applied inside the request
    for callback in callbacks:
        callback()  # the task runs eagerly here
    job.refresh_from_db()
    assert (job.status, job.done) == (RecomputeJob.Status.DONE, 12)
    assert {role_of(m) for m in members} == {OrgRole.ADMIN}
    assert all(access_of(m) == {("Web", "Developer")} for m in members)
