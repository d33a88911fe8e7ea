"""Stack roles granted by hand from a member's page: an Owner or Admin grants
and revokes them, audited in sentences; another org's stack or role is refused
with a form error; a Member cannot; the page does not grow with the org's stacks."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from organizations.audit_log import sentence
from organizations.models import AccessSource, AuditEvent, StackAccess, StackRole
from scim import provisioning
from tests import builders

pytestmark = pytest.mark.django_db


def builtin(name: str) -> StackRole:
    return StackRole.objects.get(organization=None, name=name)


def grant_url(org, member) -> str:
    return reverse("admin:member-stack-grant", args=[org.uid, member.pk])


def grant(client, org, member, stack, role):
    """Post the grant form as the page does (its fields carry the form's prefix)."""
    return client.post(grant_url(org, member), {"form": "stack-grant", "stack-grant-stack": stack, "stack-grant-role": role})


def held(member) -> set[tuple[str, str, str]]:
    return {(a.stack.name, a.role.name, a.source) for a in StackAccess.objects.filter(membership=member)}


def test_an_owner_grants_a_stack_role_by_hand_and_the_member_page_says_so(owner_client, org, owner, plain_member):
    web = builders.make_stack(org, "Web")
    response = grant(owner_client, org, plain_member, web.pk, builtin("Developer").pk)

    assert response.status_code == 302
    assert held(plain_member) == {("Web", "Developer", AccessSource.MANUAL)}
    event = AuditEvent.objects.get(action="stack_access.grant")
    assert sentence(event) == f"{owner.user.email} gave member@acme.example the role Developer on the stack Web"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Developer on Web" in page and "(Granted by hand)" in page
    assert reverse("admin:member-stack-revoke", args=[org.uid, plain_member.pk, StackAccess.objects.get().pk]) in page


def test_an_admin_revokes_a_grant_made_by_hand_after_confirming(client, org, admin_member, plain_member):
    web = builders.make_stack(org, "Web")
    client.force_login(admin_member.user)
    grant(client, org, plain_member, web.pk, builtin("Admin").pk)
    access = StackAccess.objects.get(membership=plain_member)
    url = reverse("admin:member-stack-revoke", args=[org.uid, plain_member.pk, access.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200 and "Revoke stack role" in confirm.content.decode()
    assert held(plain_member)  # asking changes nothing
    assert client.post(url).status_code == 302
    assert held(plain_member) == set()
    event = AuditEvent.objects.get(action="stack_access.revoke")
    assert sentence(event) == "admin@acme.example took the role Admin on the stack Web from member@acme.example"


def test_a_role_a_scim_group_gives_cannot_be_revoked_here(owner_client, org):
    web = builders.make_stack(org, "Web")
    pushed = builders.make_provisioned(org, "pushed@acme.example")
    StackAccess.objects.create(membership=pushed, stack=web, role=builtin("Developer"), source=AccessSource.SCIM)
    access = StackAccess.objects.get(membership=pushed)
    url = reverse("admin:member-stack-revoke", args=[org.uid, pushed.pk, access.pk])

    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url).status_code == 404
    assert held(pushed) == {("Web", "Developer", AccessSource.SCIM)}


def test_another_orgs_stack_or_role_is_refused_with_a_form_error(owner_client, org, other_org, plain_member):
    web, theirs = builders.make_stack(org, "Web"), builders.make_stack(other_org, "Theirs")
    their_role = StackRole.objects.create(organization=other_org, name="Their QA")
    for stack, role, message in (
        (theirs.pk, builtin("Developer").pk, "Choose one of this organization&#x27;s stacks."),
        (web.pk, their_role.pk, "Choose a built-in stack role or one of this organization&#x27;s."),
        ("not-a-number", "1 OR 1=1", "Choose one of this organization&#x27;s stacks."),
    ):
        response = grant(owner_client, org, plain_member, stack, role)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert held(plain_member) == set()
    assert not AuditEvent.objects.filter(action="stack_access.grant").exists()


def test_another_orgs_admin_and_another_orgs_member_are_a_404(owner_client, client, org, other_org, plain_member):
    web, stranger = builders.make_stack(org, "Web"), builders.make_member(other_org, "stranger@globex.example")
    response = grant(owner_client, org, stranger, web.pk, builtin("Developer").pk)
    assert response.status_code == 404
    assert held(stranger) == set()
    their_owner = builders.owner_of(other_org)
    owner_client.logout()
    client.force_login(their_owner.user)
    response = grant(client, org, plain_member, web.pk, builtin("Developer").pk)
    assert response.status_code == 404
    assert client.get(reverse("admin:stack-picker", args=[org.uid])).status_code == 404
    assert held(plain_member) == set()


def test_a_member_cannot_grant_revoke_or_list_stacks(client, org, plain_member):
    web = builders.make_stack(org, "Web")
    other = builders.make_member(org, "other@acme.example")
    client.force_login(plain_member.user)
    refused = (302, 404)  # a Member is not let into the admin at all; the gate answers 404 to anyone it lets in
    assert client.get(grant_url(org, other)).status_code in refused
    assert grant(client, org, other, web.pk, builtin("Admin").pk).status_code in refused
    assert grant(client, org, plain_member, web.pk, builtin("Admin").pk).status_code in refused
    assert client.get(reverse("admin:stack-picker", args=[org.uid])).status_code in refused
    assert held(other) == held(plain_member) == set()


def test_granting_twice_says_so_and_records_once(owner_client, org, plain_member):
    web = builders.make_stack(org, "Web")
    grant(owner_client, org, plain_member, web.pk, builtin("Developer").pk)
    response = grant(owner_client, org, plain_member, web.pk, builtin("Developer").pk)
    assert response.status_code == 400 and "already holds Developer on Web by hand" in response.content.decode()
    assert AuditEvent.objects.filter(action="stack_access.grant").count() == 1


def test_a_grant_by_hand_survives_leaving_a_group_that_gives_the_same_role(owner_client, org):
    """The engine keeps what was granted by hand: a recompute never removes it."""
    from mappings.services import save_mapping

    web = builders.make_stack(org, "Web")
    person = builders.make_provisioned(org, "person@acme.example")
    group = provisioning.create_group(org, "Eng", actor=None, member_ids=[person.pk])
    save_mapping(org, group, org_role="member", stack_roles={web: builtin("Developer")}, all_stacks_role=None,
                 actor=None)
    grant(owner_client, org, person, web.pk, builtin("Developer").pk)
    assert held(person) == {("Web", "Developer", AccessSource.SCIM), ("Web", "Developer", AccessSource.MANUAL)}

    provisioning.change_group_members(group, actor=None, remove=[person.pk])
    assert held(person) == {("Web", "Developer", AccessSource.MANUAL)}


def test_the_stack_picker_answers_one_page_of_this_orgs_stacks(owner_client, org, other_org):
    for i in range(25):
        builders.make_stack(org, f"Web {i:02}")
    builders.make_stack(other_org, "Web of Globex")
    url = reverse("admin:stack-picker", args=[org.uid])

    first = owner_client.get(url, {"term": "web"}).json()
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    second = owner_client.get(url, {"term": "web", "page": 2}).json()
    assert [r["text"] for r in second["results"]] == [f"Web {i:02}" for i in range(20, 25)]
    assert second["pagination"]["more"] is False


def member_page_queries(client, org, member) -> int:
    url = reverse("admin:member-detail", args=[org.uid, member.pk])
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_member_page_and_the_grant_page_do_not_grow_with_the_orgs_stacks(owner_client, org, plain_member):
    builders.make_stack(org, "Web")
    page = member_page_queries(owner_client, org, plain_member)
    with CaptureQueriesContext(connection) as ctx:
        owner_client.get(grant_url(org, plain_member))
    grant = len(ctx.captured_queries)
    for i in range(40):
        builders.make_stack(org, f"Stack {i:02}")
    assert member_page_queries(owner_client, org, plain_member) == page
    with CaptureQueriesContext(connection) as ctx:
        body = owner_client.get(grant_url(org, plain_member)).content.decode()
    assert len(ctx.captured_queries) == grant
    assert "Stack 39" not in body  # the picker asks for stacks as one types
