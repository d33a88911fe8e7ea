"""The Members tab at scale and members managed by hand: search, filters and
pages bounded by a page; deactivate, reactivate, remove and role changes through
the services (audited); the Owner untouchable; IdP-managed members say so; stack
rename and delete."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import AccessSource, AuditEvent, Membership, OrgRole, Stack, StackAccess
from organizations.directory import SORT_MATCHES_BELOW
from organizations.paging import PAGE_SIZE
from tests import builders
from tests.builders import bulk_members
from tests.builders import builtin

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def members_url(org, **params) -> str:
    url = reverse("admin:org-settings-members", args=[org.uid])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def listed(response) -> list[str]:
    return re.findall(r'<tr data-member="([^"]+)"', response.content.decode())


def test_members_tab_shows_one_page_with_the_count_and_a_next_page(owner_client, org):
    bulk_members(org, PAGE_SIZE + 10)
    first = owner_client.get(members_url(org))
    assert len(listed(first)) == PAGE_SIZE
    assert f"Members ({PAGE_SIZE + 11})" in first.content.decode()
    second = owner_client.get(members_url(org, page=2))
    assert len(listed(second)) == 11
    assert not set(listed(first)) & set(listed(second))


def test_no_select_on_the_members_tab_lists_the_org(owner_client, org):
    people = bulk_members(org, 30, prefix="zed")
    page = owner_client.get(members_url(org)).content.decode()
    options = re.findall(r"<option[^>]*>([^<]*)</option>", page)
    assert not any(p.user.email in o for p in people for o in options)
    assert 'data-ajax--url="' + reverse("admin:member-picker", args=[org.uid]) in page


def test_search_matches_part_of_the_email_or_the_name(owner_client, org):
    bulk_members(org, 5, prefix="alice")
    bob = bulk_members(org, 1, prefix="bob")[0]
    assert listed(owner_client.get(members_url(org, q="BOB"))) == [bob.user.email]
    assert len(listed(owner_client.get(members_url(org, q="alicefam")))) == 5
    short = owner_client.get(members_url(org, q="bo")).content.decode()
    assert "Type at least 3 characters" in short


def test_a_whole_account_email_finds_a_member_whose_username_differs(owner_client, org, other_org):
    """Okta may push userName "jdoe" for the account jane.doe@acme.example."""
    jane = builders.make_member(org, "jane.doe@acme.example")
    Membership.objects.filter(pk=jane.pk).update(scim_username="jdoe")
    builders.make_member(other_org, "jane.doe2@acme.example")
    assert listed(owner_client.get(members_url(org, q="Jane.Doe@acme.example"))) == ["jane.doe@acme.example"]
    assert listed(owner_client.get(members_url(org, q="jane.doe2@acme.example"))) == []  # another org's person


def test_a_whole_email_finds_the_usernames_it_starts_and_a_part_of_one_finds_it_anywhere(owner_client, org):
    """A whole address is read as the start of the userName (an index range, not
    the trigrams every address of its domain shares); a part of one stays a substring."""
    for email in ("bob@acme.example", "bob@acme.example.org", "xbob@acme.example"):
        builders.make_member(org, email)
    assert sorted(listed(owner_client.get(members_url(org, q="BOB@Acme.example")))) == [
        "bob@acme.example", "bob@acme.example.org"]
    assert sorted(listed(owner_client.get(members_url(org, q="bob@acme")))) == [
        "bob@acme.example", "bob@acme.example.org", "xbob@acme.example"]


def test_a_term_most_members_match_pages_them_in_username_order(owner_client, org):
    """Past SORT_MATCHES_BELOW matches the page is read as a walk in userName
    order (organizations.directory.members_page): the same rows, the same order."""
    matching = bulk_members(org, SORT_MATCHES_BELOW + 10, prefix="dense")
    bulk_members(org, 5, prefix="other")
    emails = sorted(m.user.email for m in matching)
    first = owner_client.get(members_url(org, q="dense"))
    assert listed(first) == emails[:PAGE_SIZE]
    assert f"{len(emails):,}" in first.content.decode()
    last = -(-len(emails) // PAGE_SIZE)
    assert listed(owner_client.get(members_url(org, q="dense", page=last))) == emails[(last - 1) * PAGE_SIZE:]


def test_filters_by_role_status_and_source(owner_client, org, owner):
    bulk_members(org, 3, prefix="plain")
    admins = bulk_members(org, 2, prefix="boss", role=OrgRole.ADMIN)
    gone = bulk_members(org, 2, prefix="gone", active=False)
    pushed = bulk_members(org, 4, prefix="okta", scim_managed=True)
    assert set(listed(owner_client.get(members_url(org, role="admin")))) == {m.user.email for m in admins}
    assert listed(owner_client.get(members_url(org, role="owner"))) == [owner.user.email]
    assert set(listed(owner_client.get(members_url(org, status="deactivated")))) == {m.user.email for m in gone}
    assert set(listed(owner_client.get(members_url(org, source="scim")))) == {m.user.email for m in pushed}
    page = owner_client.get(members_url(org, source="scim")).content.decode()
    assert page.count("Managed by identity provider</span>") == 4
    assert len(listed(owner_client.get(members_url(org, source="manual", status="active")))) == 3 + 2 + 1


def test_deactivate_and_reactivate_by_hand_are_audited_and_drop_access(owner_client, org, owner):
    stack = builders.make_stack(org, "Web")
    member = builders.make_member(org, "jo@acme.example")
    services.grant_stack_role(member, stack, builtin("Developer"), actor=None)
    url = reverse("admin:member-deactivate", args=[org.uid, member.pk])
    confirm = owner_client.get(url)
    assert confirm.status_code == 200 and "Deactivate jo@acme.example?" in confirm.content.decode()
    member.refresh_from_db()
    assert member.active  # GET only asks
    back = members_url(org, q="acme")
    response = owner_client.post(url, {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    member.refresh_from_db()
    assert not member.active
    event = AuditEvent.objects.get(action="membership.deactivate", target_id=str(member.pk))
    assert event.actor_id == str(owner.user.pk) and event.after == {"active": False}
    owner_client.post(reverse("admin:member-reactivate", args=[org.uid, member.pk]))
    member.refresh_from_db()
    assert member.active
    assert AuditEvent.objects.filter(action="membership.reactivate", target_id=str(member.pk)).exists()
    # A grant made by hand is kept through it all.
    assert StackAccess.objects.filter(membership=member, source=AccessSource.MANUAL).count() == 1


def test_remove_by_hand_keeps_the_account_and_audits(owner_client, org):
    member = builders.make_member(org, "leaver@acme.example")
    response = owner_client.post(reverse("admin:member-remove", args=[org.uid, member.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert member.user.__class__.objects.filter(pk=member.user.pk).exists()
    assert AuditEvent.objects.filter(action="membership.remove", target_id=str(member.pk)).exists()


def test_the_owner_is_never_deactivated_or_removed_by_hand(client, org, owner, admin_member):
    client.force_login(admin_member.user)
    for action in ("deactivate", "remove"):
        client.post(reverse(f"admin:member-{action}", args=[org.uid, owner.pk]))
    owner.refresh_from_db()
    assert owner.active and owner.role == OrgRole.OWNER
    assert not AuditEvent.objects.filter(target_id=str(owner.pk), action__startswith="membership.").exists()
    page = client.get(members_url(org, role="owner")).content.decode()
    assert f"admin/orgs/{org.uid}/members/{owner.pk}/deactivate/" not in page
    with pytest.raises(services.OwnershipError):
        services.set_member_active(owner, False, actor=None)


def test_idp_managed_member_warns_that_the_idp_pushes_its_state_again(owner_client, org):
    pushed = bulk_members(org, 1, prefix="okta", scim_managed=True)[0]
    for name in ("admin:member-detail", "admin:member-deactivate", "admin:member-remove"):
        page = owner_client.get(reverse(name, args=[org.uid, pushed.pk])).content.decode()
        assert "Managed by your identity provider" in page and "pushes its own state again" in page
    local = builders.make_member(org, "local@acme.example")
    page = owner_client.get(reverse("admin:member-detail", args=[org.uid, local.pk])).content.decode()
    assert "Managed by your identity provider" not in page


def test_member_page_changes_the_role_granted_by_hand(owner_client, org, plain_member):
    url = reverse("admin:member-detail", args=[org.uid, plain_member.pk])
    assert owner_client.post(url, {"role": "admin"}).status_code == 302
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.ADMIN and plain_member.manual_role == OrgRole.ADMIN
    assert AuditEvent.objects.filter(action="membership.change_role", target_id=str(plain_member.pk)).exists()
    assert owner_client.post(url, {"role": "owner"}).status_code == 400


def test_member_picker_searches_this_org_and_pages(owner_client, org, other_org):
    bulk_members(org, 25, prefix="pick")
    bulk_members(other_org, 3, prefix="pick")
    url = reverse("admin:member-picker", args=[org.uid])
    first = owner_client.get(url, {"term": "pickfam"}).json()
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    second = owner_client.get(url, {"term": "pickfam", "page": 2}).json()
    assert len(second["results"]) == 5 and second["pagination"]["more"] is False
    ids = {int(r["id"]) for r in first["results"] + second["results"]}
    assert ids <= set(Membership.objects.filter(organization=org).values_list("pk", flat=True))
    no_owner = owner_client.get(url, {"scope": "non-owner"}).json()["results"]
    assert all("Owner" not in r["text"] for r in no_owner)


def test_stack_rename_and_delete_name_the_members_affected(owner_client, org, owner):
    stack = builders.make_stack(org, "Web")
    builders.make_stack(org, "Docs")
    people = [builders.make_member(org) for _ in range(3)]
    for m in people:
        services.grant_stack_role(m, stack, builtin("Developer"), actor=None)
    services.grant_stack_role(people[0], stack, builtin("Admin"), actor=None)

    rename = reverse("admin:stack-rename", args=[org.uid, stack.pk])
    assert owner_client.post(rename, {"name": "docs"}).status_code == 400  # taken, case-insensitively
    assert owner_client.post(rename, {"name": "Website"}).status_code == 302
    stack.refresh_from_db()
    assert stack.name == "Website"
    assert AuditEvent.objects.get(action="stack.rename").before == {"name": "Web"}

    delete = reverse("admin:stack-delete", args=[org.uid, stack.pk])
    page = owner_client.get(delete).content.decode()
    assert "3 members</strong> lose every role they hold on Website" in page
    assert owner_client.post(delete).status_code == 302
    assert not Stack.objects.filter(pk=stack.pk).exists()
    assert not StackAccess.objects.filter(stack_id=stack.pk).exists()
    event = AuditEvent.objects.get(action="stack.delete")
    assert event.before == {"name": "Website", "members_affected": 3, "grants": 4}
    assert event.actor_id == str(owner.user.pk)


def test_stacks_tab_counts_people_once_each_and_caps_the_count(owner_client, org, monkeypatch):
    from organizations.settings_pages import stacks as stacks_page

    web, docs = builders.make_stack(org, "Web"), builders.make_stack(org, "Docs")
    builders.make_stack(org, "Empty")
    people = [builders.make_member(org) for _ in range(4)]
    for m in people:
        services.grant_stack_role(m, web, builtin("Developer"), actor=None)
    services.grant_stack_role(people[0], web, builtin("Admin"), actor=None)  # two roles, one person
    services.grant_stack_role(people[1], docs, builtin("Developer"), actor=None)

    def shown(response) -> dict[str, str]:
        return dict(re.findall(r'<tr data-stack="([^"]+)">.*?class="stack-people">([^<]+)<', response.content.decode()))

    tab = reverse("admin:org-settings-stacks", args=[org.uid])
    assert shown(owner_client.get(tab)) == {"Web": "4", "Docs": "1", "Empty": "0"}
    monkeypatch.setattr(stacks_page, "STACK_PEOPLE_CAP", 3)
    assert shown(owner_client.get(tab)) == {"Web": "3+", "Docs": "1", "Empty": "0"}


def test_another_orgs_member_or_stack_is_a_404_on_every_new_page(owner_client, other_org):
    theirs = builders.make_member(other_org)
    stack = builders.make_stack(other_org)
    for name in ("admin:member-detail", "admin:member-deactivate", "admin:member-reactivate", "admin:member-remove"):
        assert owner_client.get(reverse(name, args=[other_org.uid, theirs.pk])).status_code == 404
    for name in ("admin:stack-rename", "admin:stack-delete"):
        assert owner_client.post(reverse(name, args=[other_org.uid, stack.pk]), {"name": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and Stack.objects.filter(pk=stack.pk).exists()
