"""`access_report` and `map_group` management commands."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mappings.models import GroupMapping
from organizations.models import Membership, OrgRole
from tests import builders
from tests.builders import access_of, builtin, make_group, map_group, role_of

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_access_report_json_lists_every_member(org, owner, plain_member, django_assert_max_num_queries):
    web = builders.make_stack(org, "Web")
    map_group(org, make_group(org, "Engineering", [plain_member]), "admin", {web: "Developer"})
    Membership.objects.filter(pk=plain_member.pk).update(scim_username="Jane.Doe")
    with django_assert_max_num_queries(10):
        rows = json.loads(run("access_report", org.uid, "--json"))
    assert [r["email"] for r in rows] == [owner.user.email, plain_member.user.email]
    jane = rows[1]
    assert (jane["userName"], jane["active"], jane["org_role"]) == ("Jane.Doe", True, "admin")
    assert jane["stack_roles"] == {"Web": ["Developer"]}
    assert jane["groups"] == ["Engineering"]


def test_access_report_text_is_readable(org, plain_member):
    out = run("access_report", org.uid)
    assert f"{plain_member.user.email} (userName {plain_member.scim_username}, active): member" in out


def test_access_report_of_an_unknown_org_is_a_clear_error():
    with pytest.raises(CommandError, match="No organization"):
        run("access_report", "nope", "--json")


def test_map_group_maps_a_group_with_stack_and_all_stack_roles(org, plain_member):
    builders.make_stack(org, "Web")
    builders.make_stack(org, "Docs")
    make_group(org, "Engineering", [plain_member])
    out = run(
        "map_group", org.uid, "engineering", "--org-role", "Admin", "--stack", "web=Developer", "--all-stacks",
        "content manager",
    )
    assert "Mapped Engineering -> Admin" in out
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer"), ("Web", "Content Manager"), ("Docs", "Content Manager")}
    mapping = GroupMapping.objects.get()
    assert mapping.all_stacks_role == builtin("Content Manager")


def test_map_group_again_replaces_the_mapping(org, plain_member):
    web = builders.make_stack(org, "Web")
    map_group(org, make_group(org, "Engineering", [plain_member]), "admin", {web: "Developer"})
    run("map_group", org.uid, "Engineering", "--org-role", "member")
    assert role_of(plain_member) == OrgRole.MEMBER and access_of(plain_member) == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nope", "--org-role", "Admin"], "No SCIM group named 'Nope'"),
        (["Engineering", "--org-role", "Owner"], "--org-role must be Admin or Member"),
        (["Engineering", "--org-role", "Admin", "--stack", "Nope=Admin"], "No stack named 'Nope'"),
        (["Engineering", "--org-role", "Admin", "--stack", "Web=Boss"], "No stack role named 'Boss'"),
        (["Engineering", "--org-role", "Admin", "--stack", "Web"], "--stack takes STACK=ROLE"),
        (["Engineering", "--org-role", "Admin", "--all-stacks", "Boss"], "No stack role named 'Boss'"),
    ],
)
def test_map_group_refuses_unknown_names_clearly(org, args, message):
    builders.make_stack(org, "Web")
    make_group(org, "Engineering")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run("map_group", org.uid, *args)
    assert not GroupMapping.objects.exists()


def test_map_group_does_not_see_another_orgs_groups_stacks_or_roles(org, other_org):
    from organizations import services as org_services

    make_group(other_org, "Theirs")
    with pytest.raises(CommandError, match="No SCIM group"):
        run("map_group", org.uid, "Theirs", "--org-role", "Admin")
    make_group(org, "Engineering")
    builders.make_stack(other_org, "TheirStack")
    with pytest.raises(CommandError, match="No stack named"):
        run("map_group", org.uid, "Engineering", "--org-role", "Admin", "--stack", "TheirStack=Admin")
    org_services.create_stack_role(other_org, "TheirRole", actor=None)
    with pytest.raises(CommandError, match="No stack role"):
        run("map_group", org.uid, "Engineering", "--org-role", "Admin", "--all-stacks", "TheirRole")


def test_map_group_records_the_actor_and_refuses_a_non_admin(org, owner, plain_member):
    from organizations.models import AuditEvent

    make_group(org, "Engineering", [plain_member])
    with pytest.raises(CommandError, match="not an active Owner or Admin"):
        run("map_group", org.uid, "Engineering", "--org-role", "Admin", "--actor", plain_member.user.email)
    assert not GroupMapping.objects.exists()
    run("map_group", org.uid, "Engineering", "--org-role", "Admin", "--actor", owner.user.email.upper())
    assert AuditEvent.objects.get(action="group_mapping.create").actor_label == owner.user.email
