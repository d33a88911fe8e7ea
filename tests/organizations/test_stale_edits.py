"""An edit made on a stale page is refused: the member's role
edit and the group mapping edit carry the version their page was opened at, and
a post whose version is no longer current changes nothing and says why."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mappings.models import GroupMapping
from organizations import services
from organizations.models import AuditEvent, Membership, OrgRole
from tests.builders import make_group, map_group

pytestmark = pytest.mark.django_db

STALE_MEMBER = "This member changed since you opened this page; review it and try again."
STALE_MAPPING = "This mapping changed since you opened this page; review it and try again."


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def hidden_version(page: str, form_id: str) -> str:
    form = page[page.index(f'id="{form_id}"'):]
    match = re.search(r'<input type="hidden" name="version"( value="([^"]*)")?', form)
    assert match, form[:800]
    return (match.group(2) or "").replace("&#x27;", "'").replace("&#x2B;", "+")


# --- the member's role ------------------------------------------------------------


def test_the_member_page_carries_its_version_and_a_fresh_edit_applies(owner_client, org, plain_member):
    url = reverse("admin:member-detail", args=[org.uid, plain_member.pk])
    version = hidden_version(owner_client.get(url).content.decode(), "member-role-form")
    assert version == plain_member.updated_at.isoformat()
    assert owner_client.post(url, {"role": "admin", "version": version}).status_code == 302
    assert Membership.objects.get(pk=plain_member.pk).manual_role == OrgRole.ADMIN


def test_a_role_edit_on_a_stale_member_page_is_refused_and_changes_nothing(owner_client, org, owner, plain_member):
    url = reverse("admin:member-detail", args=[org.uid, plain_member.pk])
    version = hidden_version(owner_client.get(url).content.decode(), "member-role-form")
    # meanwhile, another admin (here: the service) changes the member
    services.change_role(plain_member, OrgRole.ADMIN, actor=owner.user)
    audit_before = AuditEvent.objects.count()
    response = owner_client.post(url, {"role": "member", "version": version})
    assert response.status_code == 400
    assert STALE_MEMBER in response.content.decode()
    assert Membership.objects.get(pk=plain_member.pk).manual_role == OrgRole.ADMIN  # not overwritten
    assert AuditEvent.objects.count() == audit_before
    # the page now carries the current version: submitting again (after review) applies
    fresh = hidden_version(response.content.decode(), "member-role-form")
    assert fresh != version
    assert owner_client.post(url, {"role": "member", "version": fresh}).status_code == 302
    assert Membership.objects.get(pk=plain_member.pk).manual_role == OrgRole.MEMBER


def test_a_scim_update_also_makes_the_member_page_stale(owner_client, org, plain_member):
    url = reverse("admin:member-detail", args=[org.uid, plain_member.pk])
    version = hidden_version(owner_client.get(url).content.decode(), "member-role-form")
    Membership.objects.get(pk=plain_member.pk).save(update_fields=["updated_at"])  # what any write does
    response = owner_client.post(url, {"role": "admin", "version": version})
    assert response.status_code == 400 and STALE_MEMBER in response.content.decode()
    assert Membership.objects.get(pk=plain_member.pk).manual_role != OrgRole.ADMIN


# --- the group mapping -------------------------------------------------------------


def tab_url(org) -> str:
    return reverse("admin:org-settings-scim", args=[org.uid])


def save_url(org) -> str:
    return reverse("admin:mapping-save", args=[org.uid])


def edit_page_version(client, org, mapping) -> str:
    return hidden_version(client.get(tab_url(org), {"edit_mapping": mapping.pk}).content.decode(), "group-mapping-form")


def test_the_mapping_edit_page_carries_its_version_and_a_fresh_edit_applies(owner_client, scim_org):
    group = make_group(scim_org, "Engineering")
    mapping = map_group(scim_org, group, "admin")
    version = edit_page_version(owner_client, scim_org, mapping)
    data = {"group": str(group.pk), "org_role": "member", "all_stacks_role": "", "version": version}
    preview = owner_client.post(save_url(scim_org), data, follow=True)  # Post/Redirect/Get
    assert preview.status_code == 200 and preview.redirect_chain[0][1] == 302
    assert ("version", version) in preview.context["posted_fields"]  # carried to the Confirm button
    done = owner_client.post(save_url(scim_org), {**data, "fingerprint": preview.context["preview"].fingerprint})
    assert done.status_code == 302
    assert GroupMapping.objects.get(pk=mapping.pk).org_role == "member"


@pytest.mark.parametrize("step", ["preview", "confirm"])
def test_a_mapping_edit_on_a_stale_page_is_refused_and_changes_nothing(owner_client, scim_org, owner, step):
    group = make_group(scim_org, "Engineering")
    mapping = map_group(scim_org, group, "admin")
    version = edit_page_version(owner_client, scim_org, mapping)
    data = {"group": str(group.pk), "org_role": "member", "all_stacks_role": "", "version": version}
    if step == "confirm":
        preview = owner_client.post(save_url(scim_org), data, follow=True)
        data["fingerprint"] = preview.context["preview"].fingerprint
    # meanwhile, another admin saves the mapping (an All stacks role)
    map_group(scim_org, group, "admin", all_stacks="Developer", actor=owner.user)
    before = GroupMapping.objects.get(pk=mapping.pk)
    response = owner_client.post(save_url(scim_org), data)
    assert response.status_code == 400
    assert STALE_MAPPING in response.content.decode()
    after = GroupMapping.objects.get(pk=mapping.pk)
    assert (after.org_role, after.all_stacks_role_id, after.updated_at) == (before.org_role, before.all_stacks_role_id, before.updated_at)
    assert hidden_version(response.content.decode(), "group-mapping-form") != version  # current now


def test_the_create_form_carries_no_version_and_is_not_refused(owner_client, scim_org):
    group = make_group(scim_org, "Ops")
    assert hidden_version(owner_client.get(tab_url(scim_org)).content.decode(), "group-mapping-form") == ""
    data = {"group": str(group.pk), "org_role": "admin", "all_stacks_role": ""}
    preview = owner_client.post(save_url(scim_org), data, follow=True)
    assert owner_client.post(save_url(scim_org), {**data, "fingerprint": preview.context["preview"].fingerprint}).status_code == 302
    assert GroupMapping.objects.filter(group=group).exists()
