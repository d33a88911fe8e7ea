"""Custom stack roles: rename and delete, through organizations.services (audited)
and the Stacks tab. Deleting shows what it affects and is refused while a group
mapping grants the role; built-in roles cannot be renamed or deleted."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations import services
from organizations.audit_log import sentence
from organizations.models import AuditEvent, Organization, StackAccess, StackRole
from tests import builders
from tests.builders import builtin, make_group, map_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, owner):
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    org.refresh_from_db()
    web, docs = builders.make_stack(org, "Web"), builders.make_stack(org, "Docs")
    qa = services.create_stack_role(org, "QA", actor=owner.user)
    ann, bob = builders.make_member(org, "ann@acme.example"), builders.make_member(org, "bob@acme.example")
    services.grant_stack_role(ann, web, qa, actor=owner.user)
    services.grant_stack_role(ann, docs, qa, actor=owner.user)
    services.grant_stack_role(bob, web, qa, actor=owner.user)
    return {"org": org, "web": web, "docs": docs, "qa": qa, "ann": ann, "bob": bob}


def url(name, org, role):
    return reverse(f"admin:{name}", args=[org.uid, role.pk])


def test_rename_keeps_the_grants_and_is_audited(world, owner):
    qa = services.rename_stack_role(world["qa"], "Quality", actor=owner.user)
    assert StackRole.objects.get(pk=qa.pk).name == "Quality"
    assert StackAccess.objects.filter(role=qa).count() == 3
    event = AuditEvent.objects.get(action="stack_role.rename")
    assert (event.before, event.after) == ({"name": "QA"}, {"name": "Quality"})
    assert "renamed the custom stack role QA to Quality" in sentence(event)


def test_rename_refuses_a_taken_or_builtin_name(world, owner):
    with pytest.raises(services.ServiceError, match="already exists"):
        services.rename_stack_role(world["qa"], "developer", actor=owner.user)  # a built-in one, any case
    with pytest.raises(services.ServiceError, match="built-in"):
        services.rename_stack_role(builtin("Developer"), "Dev", actor=owner.user)
    with pytest.raises(services.ServiceError, match="built-in"):
        services.delete_stack_role(builtin("Developer"), actor=owner.user)


def test_delete_removes_its_grants_and_says_how_many(world, owner):
    usage = services.stack_role_usage(world["qa"])
    assert (usage.grants, usage.members, usage.users_total) == (3, 2, 0)
    services.delete_stack_role(world["qa"], actor=owner.user)
    assert not StackRole.objects.filter(pk=world["qa"].pk).exists()
    assert not StackAccess.objects.filter(membership__organization=world["org"], role_id=world["qa"].pk).exists()
    event = AuditEvent.objects.get(action="stack_role.delete")
    assert event.before == {"name": "QA", "grants": 3, "members_affected": 2}
    assert "deleted the custom stack role QA; 2 members lost it (3 grants)" in sentence(event)


def test_delete_is_refused_while_a_mapping_grants_the_role(world, owner):
    org, qa = world["org"], world["qa"]
    map_group(org, make_group(org, "Engineering", [world["bob"]]), "member", {world["web"]: qa})
    map_group(org, make_group(org, "Testers"), "member", all_stacks=qa)
    with pytest.raises(services.ServiceError, match="group mappings of Engineering, Testers"):
        services.delete_stack_role(qa, actor=owner.user)
    assert StackRole.objects.filter(pk=qa.pk).exists() and not AuditEvent.objects.filter(action="stack_role.delete").exists()


def test_counts_are_capped(world, owner, monkeypatch):
    monkeypatch.setattr(services, "STACK_ROLE_COUNT_CAP", 2)
    usage = services.stack_role_usage(world["qa"])
    assert (usage.grants, usage.grants_capped, usage.members, usage.members_capped) == (2, True, 2, False)


# --- the Stacks tab ------------------------------------------------------------


def test_stacks_tab_offers_rename_and_delete_for_custom_roles_only(client, world, owner):
    client.force_login(owner.user)
    page = client.get(reverse("admin:org-settings-stacks", args=[world["org"].uid])).content.decode()
    assert url("stack-role-rename", world["org"], world["qa"]) in page
    assert url("stack-role-delete", world["org"], world["qa"]) in page
    assert url("stack-role-delete", world["org"], builtin("Developer")) not in page
    assert "Built-in roles cannot be renamed or deleted." in page
    assert client.get(url("stack-role-delete", world["org"], builtin("Developer"))).status_code == 404


def test_rename_page(client, world, owner):
    client.force_login(owner.user)
    rename = url("stack-role-rename", world["org"], world["qa"])
    assert client.get(rename).status_code == 200
    assert client.post(rename, {"name": "Admin"}).status_code == 400  # a built-in's name
    response = client.post(rename, {"name": "Quality"})
    assert response.status_code == 302
    assert StackRole.objects.get(pk=world["qa"].pk).name == "Quality"


def test_delete_page_confirms_with_counts_then_deletes(client, world, owner):
    client.force_login(owner.user)
    delete = url("stack-role-delete", world["org"], world["qa"])
    page = client.get(delete).content.decode()
    assert "2 members</strong> lose it: 3 grants" in page and 'id="stack-role-delete-confirm"' in page
    assert StackRole.objects.filter(pk=world["qa"].pk).exists()  # GET changes nothing
    response = client.post(delete, follow=True)
    assert "Stack role “QA” was deleted; 2 members lost it." in response.content.decode()
    assert not StackRole.objects.filter(pk=world["qa"].pk).exists()


def test_delete_page_lists_the_mappings_and_offers_no_delete(client, world, owner):
    org, qa = world["org"], world["qa"]
    map_group(org, make_group(org, "Engineering"), "member", {world["web"]: qa})
    client.force_login(owner.user)
    delete = url("stack-role-delete", org, qa)
    page = client.get(delete).content.decode()
    assert 'id="stack-role-in-use"' in page and "group mapping of Engineering grants it" in page
    assert "Engineering" in page.split('id="stack-role-mappings"')[1][:300]
    assert 'id="stack-role-delete-confirm"' not in page
    response = client.post(delete, follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert StackRole.objects.filter(pk=qa.pk).exists()


def test_another_orgs_role_is_404(client, world, other_org):
    theirs = StackRole.objects.create(organization=other_org, name="Theirs")
    client.force_login(builders.owner_of(world["org"]).user)
    for name in ("stack-role-rename", "stack-role-delete"):
        assert client.get(url(name, world["org"], theirs)).status_code == 404
        assert client.post(url(name, world["org"], theirs), {"name": "x"}).status_code == 404
        assert client.post(url(name, other_org, theirs), {"name": "x"}).status_code == 404
    assert StackRole.objects.get(pk=theirs.pk).name == "Theirs"
