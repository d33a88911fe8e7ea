"""The organization services: domain rules, the database constraints behind
them, and the audit entry each one writes."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from organizations import services
from organizations.models import (
    AccessSource,
    ActorType,
    AuditEvent,
    Membership,
    Organization,
    OrgRole,
    Plan,
    StackAccess,
    StackRole,
    User,
)
from tests import builders

pytestmark = pytest.mark.django_db


def builtin_role(name: str = "Developer") -> StackRole:
    return StackRole.objects.get(builtin=True, name=name)


# --- one Owner per org ------------------------------------------------------


def test_new_org_has_exactly_its_creator_as_owner():
    org = services.create_organization("Initech", owner_email="boss@initech.example", actor=None)

    owners = list(org.memberships.filter(role=OrgRole.OWNER).values_list("user__email", flat=True))
    assert owners == ["boss@initech.example"]
    assert org.plan == Plan.ENTERPRISE and org.has_feature("scim")


def test_adding_a_second_owner_is_refused(org):
    with pytest.raises(services.OwnershipError):
        services.add_member(org, "second@acme.example", role=OrgRole.OWNER, actor=None)

    assert org.memberships.filter(role=OrgRole.OWNER).count() == 1
    assert not User.objects.filter(email="second@acme.example").exists()


def test_promoting_a_member_to_owner_by_role_change_is_refused(org, plain_member):
    with pytest.raises(services.OwnershipError):
        services.change_role(plain_member, OrgRole.OWNER, actor=None)

    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.MEMBER


def test_demoting_the_owner_by_role_change_is_refused(org, owner):
    with pytest.raises(services.OwnershipError):
        services.change_role(owner, OrgRole.MEMBER, actor=None)

    owner.refresh_from_db()
    assert owner.role == OrgRole.OWNER


def test_removing_the_owner_is_refused(owner):
    with pytest.raises(services.OwnershipError):
        services.remove_member(owner, actor=None)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_transfer_makes_new_owner_and_old_owner_an_admin(org, owner, plain_member):
    services.transfer_ownership(org, plain_member, actor=owner.user, typed_name=org.name)

    roles = dict(org.memberships.values_list("user__email", "role"))
    assert roles == {owner.user.email: OrgRole.ADMIN, plain_member.user.email: OrgRole.OWNER}
    plain_member.user.refresh_from_db()
    assert plain_member.user.is_staff


def test_transfer_to_a_member_of_another_org_is_refused(org, other_org, owner):
    stranger = builders.make_member(other_org)
    with pytest.raises(services.ServiceError):
        services.transfer_ownership(org, stranger, actor=None, typed_name=org.name)
    assert builders.owner_of(org).pk == owner.pk


def test_database_refuses_a_second_owner_row(org, plain_member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=plain_member.pk).update(role=OrgRole.OWNER)


def test_database_refuses_a_direct_second_owner_insert(org):
    user = User.objects.create_user(email="sneaky@acme.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organization=org, user=user, role=OrgRole.OWNER, scim_username=user.email)


def test_each_org_has_its_own_owner(org, other_org):
    assert builders.owner_of(org).pk != builders.owner_of(other_org).pk


# --- e-mail uniqueness, case-insensitive ------------------------------------


def test_an_account_is_found_whatever_the_case_of_its_email(org, other_org):
    first = builders.make_member(org, "Jane.Doe@Example.com")
    second = builders.make_member(other_org, "jane.doe@EXAMPLE.COM")

    assert first.user_id == second.user_id
    assert User.objects.filter(email__iexact="jane.doe@example.com").count() == 1


def test_adding_the_same_person_twice_in_another_case_is_refused(org):
    builders.make_member(org, "pat@acme.example")
    with pytest.raises(services.ServiceError, match="already a member"):
        services.add_member(org, "PAT@acme.example", actor=None)


def test_database_refuses_two_accounts_differing_only_in_case(db):
    User.objects.create_user(email="dup@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="DUP@example.com")


def test_login_lookup_by_natural_key_ignores_case(db):
    user = User.objects.create_user(email="Mixed@Case.example")
    assert User.objects.get_by_natural_key("mixed@case.EXAMPLE") == user


def test_stack_names_are_unique_per_org_ignoring_case(org, other_org):
    builders.make_stack(org, "Website")
    with pytest.raises(services.ServiceError, match="already exists"):
        services.create_stack(org, "WEBSITE", actor=None)
    assert services.create_stack(other_org, "website", actor=None).organization == other_org


def test_custom_stack_role_cannot_shadow_a_builtin(org):
    with pytest.raises(services.ServiceError):
        services.create_stack_role(org, "developer", actor=None)


def test_a_name_too_long_is_refused_whole_not_cut_short(org):
    """Neither an account nor a membership is written with a shortened name."""
    with pytest.raises(services.ServiceError, match="Last name is 151 characters long; at most 150"):
        services.add_member(org, "long@acme.example", actor=None, first_name="Ann", last_name="x" * 151)
    assert not User.objects.filter(email="long@acme.example").exists()
    account = builders.make_member(other := services.create_organization(
        "Globex", owner_email="o@globex.example", actor=None), "kept@acme.example").user
    with pytest.raises(services.ServiceError, match="First name"):
        services.add_member(org, account.email, actor=None, first_name="y" * 200)
    assert not org.memberships.filter(user=account).exists() and other.memberships.filter(user=account).exists()


def test_invalid_email_is_a_clear_error(org):
    with pytest.raises(services.ServiceError, match="e-mail"):
        services.add_member(org, "not-an-email", actor=None)


# --- stack access -------------------------------------------------------------


def test_granting_another_orgs_stack_is_refused(org, other_org, plain_member):
    foreign = builders.make_stack(other_org)
    with pytest.raises(services.ServiceError):
        services.grant_stack_role(plain_member, foreign, builtin_role(), actor=None)
    assert not StackAccess.objects.exists()


def test_revoke_removes_only_the_hand_granted_row(org, plain_member):
    stack = builders.make_stack(org)
    role = builtin_role()
    services.grant_stack_role(plain_member, stack, role, actor=None)
    StackAccess.objects.create(membership=plain_member, stack=stack, role=role, source=AccessSource.SCIM)

    assert services.revoke_stack_role(plain_member, stack, role, actor=None) is True

    assert list(plain_member.stack_access.values_list("source", flat=True)) == [AccessSource.SCIM]


# --- every service writes its audit entry --------------------------------------


def _create_org(ctx):
    return services.create_organization("Audited", owner_email="audited@example.com", actor=ctx["actor"])


def _add_member(ctx):
    return services.add_member(ctx["org"], "new@acme.example", actor=ctx["actor"])


def _change_role(ctx):
    return services.change_role(ctx["member"], OrgRole.ADMIN, actor=ctx["actor"])


def _transfer(ctx):
    return services.transfer_ownership(ctx["org"], ctx["member"], actor=ctx["actor"], typed_name=ctx["org"].name)


def _remove(ctx):
    return services.remove_member(ctx["member"], actor=ctx["actor"])


def _create_stack(ctx):
    return services.create_stack(ctx["org"], "Audited stack", actor=ctx["actor"])


def _create_stack_role(ctx):
    return services.create_stack_role(ctx["org"], "Reviewer", actor=ctx["actor"])


def _grant(ctx):
    return services.grant_stack_role(ctx["member"], ctx["stack"], builtin_role(), actor=ctx["actor"])


def _revoke(ctx):
    services.grant_stack_role(ctx["member"], ctx["stack"], builtin_role(), actor=None)
    return services.revoke_stack_role(ctx["member"], ctx["stack"], builtin_role(), actor=ctx["actor"])


def _rename(ctx):
    return services.rename_organization(ctx["org"], "Acme Renamed", actor=ctx["actor"])


def _change_plan(ctx):
    return services.change_plan(ctx["org"], Plan.TEAM, actor=ctx["actor"])


@pytest.mark.parametrize(
    "call, action",
    [
        (_create_org, "organization.create"),
        (_add_member, "membership.add"),
        (_change_role, "membership.change_role"),
        (_transfer, "organization.transfer_ownership"),
        (_remove, "membership.remove"),
        (_create_stack, "stack.create"),
        (_create_stack_role, "stack_role.create"),
        (_grant, "stack_access.grant"),
        (_revoke, "stack_access.revoke"),
        (_rename, "organization.rename"),
        (_change_plan, "organization.change_plan"),
    ],
)
def test_every_service_records_who_did_what(org, owner, plain_member, call, action):
    ctx = {"org": org, "member": plain_member, "stack": builders.make_stack(org), "actor": owner.user}
    already = set(AuditEvent.objects.values_list("pk", flat=True))

    call(ctx)

    events = list(AuditEvent.objects.exclude(pk__in=already).filter(action=action))
    assert len(events) == 1
    event = events[0]
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        ActorType.USER,
        str(owner.user.pk),
        owner.user.email,
    )
    assert event.organization_id is not None and event.org_uid == event.organization.uid
    assert event.before is not None or event.after is not None
    assert event.target_type and event.target_label


def test_a_refused_change_leaves_no_audit_entry(org, owner):
    before = AuditEvent.objects.count()
    with pytest.raises(services.OwnershipError):
        services.change_role(owner, OrgRole.MEMBER, actor=owner.user)
    assert AuditEvent.objects.count() == before


def test_system_actions_are_audited_as_system(db):
    org = services.create_organization("Sys", owner_email="sys@example.com", actor=None)
    event = AuditEvent.objects.get(organization=org, action="organization.create")
    assert (event.actor_type, event.actor_label) == (ActorType.SYSTEM, "system")


def test_audit_trail_survives_removing_a_member(org, plain_member):
    services.remove_member(plain_member, actor=None)
    assert AuditEvent.objects.filter(action="membership.remove", target_label__contains=plain_member.user.email)
    assert User.objects.filter(pk=plain_member.user_id).exists()
    assert Organization.objects.filter(pk=org.pk).exists()
