"""The management commands behind `make run` and scripted set-ups."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from organizations.models import AuditEvent, Membership, Organization, OrgRole, Stack, StackAccess, User
from organizations.management.commands import seed_demo
from tests import builders

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_org_prints_the_uid_as_its_last_line(db):
    output = run("create_org", "Initech", "--owner", "Boss@Initech.example", "--password", builders.PASSWORD)

    uid = output.strip().splitlines()[-1]
    org = Organization.objects.get(uid=uid)
    assert org.name == "Initech"
    owner = org.memberships.get(role=OrgRole.OWNER).user
    assert owner.email.lower() == "boss@initech.example"
    assert owner.check_password(builders.PASSWORD) and owner.is_staff
    assert AuditEvent.objects.filter(organization=org, action="organization.create", actor_type="system").exists()


def test_create_org_reuses_an_existing_account(org, owner):
    output = run("create_org", "Second", "--owner", owner.user.email.upper())
    second = Organization.objects.get(uid=output.strip().splitlines()[-1])
    assert second.memberships.get(role=OrgRole.OWNER).user_id == owner.user_id
    assert User.objects.count() == 1


def test_create_org_rejects_a_bad_email(db):
    with pytest.raises(CommandError, match="e-mail"):
        run("create_org", "Nope", "--owner", "not-an-email")
    assert not Organization.objects.exists()


def test_create_stack_adds_a_stack_to_the_org(org):
    output = run("create_stack", org.uid, "Website")
    stack = Stack.objects.get(organization=org)
    assert stack.name == "Website" and "Website" in output


def test_create_stack_for_an_unknown_org_fails_clearly(db):
    with pytest.raises(CommandError, match="No organization"):
        run("create_stack", "nosuchorg", "Website")


def test_create_stack_with_a_duplicate_name_fails_clearly(org):
    builders.make_stack(org, "Website")
    with pytest.raises(CommandError, match="already exists"):
        run("create_stack", org.uid, "website")


def test_seed_demo_creates_the_demo_org_and_prints_logins(db):
    output = run("seed_demo")

    org = Organization.objects.get(name=seed_demo.DEMO_ORG)
    roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))
    assert roles == {
        "owner@demo.example": OrgRole.OWNER,
        "admin@demo.example": OrgRole.ADMIN,
        "member@demo.example": OrgRole.MEMBER,
    }
    assert sorted(org.stacks.values_list("name", flat=True)) == sorted(seed_demo.DEMO_STACKS)
    assert StackAccess.objects.filter(membership__organization=org).count() == 2
    assert "http://127.0.0.1:8000/admin/" in output
    for email in roles:
        assert f"{email} / {seed_demo.DEMO_PASSWORD}" in output
        assert User.objects.get(email=email).check_password(seed_demo.DEMO_PASSWORD)


def test_seed_demo_if_empty_creates_nothing_on_existing_data_but_prints_logins(org):
    output = run("seed_demo", "--if-empty")

    assert list(Organization.objects.values_list("name", flat=True)) == ["Acme"]
    assert "owner@demo.example" in output and "http://127.0.0.1:8000/admin/" in output


def test_seed_demo_if_empty_seeds_an_empty_database(db):
    run("seed_demo", "--if-empty")
    assert Organization.objects.filter(name=seed_demo.DEMO_ORG).exists()


def test_seeded_owner_and_admin_reach_the_admin_and_the_member_their_home(client):
    run("seed_demo")
    for email, admin in [("owner@demo.example", True), ("admin@demo.example", True), ("member@demo.example", False)]:
        client.logout()
        response = client.post("/admin/login/", {"username": email, "password": seed_demo.DEMO_PASSWORD})
        assert "_auth_user_id" in client.session, email
        assert (response["Location"] != "/home/") is admin, email
        assert (client.get("/admin/").status_code == 200) is admin, email
