"""The Group Mapping section of the SCIM tab, its forms, and the member "why" page."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mappings.models import GroupMapping, RecomputeJob
from organizations import services as org_services
from organizations.models import Organization, OrgRole
from tests import builders
from tests.builders import access_of, builtin, make_group, map_group, role_of

pytestmark = pytest.mark.django_db


def enable_scim(org) -> None:
    Organization.objects.filter(pk=org.pk).update(scim_enabled=True)
    org.refresh_from_db()


def tab_url(org) -> str:
    return reverse("admin:org-settings-scim", args=[org.uid])


def save_url(org) -> str:
    return reverse("admin:mapping-save", args=[org.uid])


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def web(scim_org):
    return builders.make_stack(scim_org, "Web")


def form_data(group, org_role="admin", **extra) -> dict:
    return {"group": str(group.pk), "org_role": org_role, "all_stacks_role": "", **extra}


def confirmed(client, url: str, data: dict | None = None):
    """Update (or Remove) as the page does it: the preview first, then Confirm
    with the preview's fingerprint."""
    preview = client.post(url, data or {}, follow=True)
    assert preview.redirect_chain and preview.redirect_chain[0][1] == 302  # Post/Redirect/Get
    assert preview.status_code == 200, preview.content[:500]
    assert "Confirm" in preview.content.decode()
    return client.post(url, {**(data or {}), "fingerprint": preview.context["preview"].fingerprint})


# --- the section ----------------------------------------------------------------


def test_scim_tab_shows_the_group_mapping_form_with_the_orgs_groups_and_stacks(owner_client, scim_org, other_org, web):
    make_group(scim_org, "Engineering")
    make_group(other_org, "Globex Secret Group")
    page = owner_client.get(tab_url(scim_org)).content.decode()
    assert 'id="group-mapping"' in page
    # The group picker asks as one types; the page lists no group.
    picker = reverse("admin:scim-group-picker", args=[scim_org.uid])
    assert f'data-ajax--url="{picker}"' in page and "Engineering" not in page
    found = owner_client.get(picker, {"term": "eng"}).json()["results"]
    assert [r["text"] for r in found] == ["Engineering"]
    assert "Globex" not in str(owner_client.get(picker, {"term": "globex"}).json())
    assert "Stack Role: Web" in page and "All stacks" in page
    assert 'value="Update"' in page


def test_group_mapping_section_is_hidden_while_scim_is_off(owner_client, org):
    page = owner_client.get(tab_url(org)).content.decode()
    assert 'id="group-mapping"' not in page


def test_admin_maps_a_group_and_its_members_get_the_roles(client, scim_org, admin_member, plain_member, web):
    client.force_login(admin_member.user)
    group = make_group(scim_org, "Engineering", [plain_member])
    response = confirmed(
        client, save_url(scim_org), form_data(group, "admin", **{f"stack_{web.pk}": builtin("Developer").pk})
    )
    assert response.status_code == 302
    assert response["Location"] == tab_url(scim_org) + "#group-mapping"
    assert role_of(plain_member) == OrgRole.ADMIN
    assert access_of(plain_member) == {("Web", "Developer")}
    page = client.get(response["Location"]).content.decode()
    assert "Mapping of Engineering saved." in page
    assert 'data-group="Engineering"' in page


def test_mapping_list_shows_how_many_members_each_mapping_affects(owner_client, scim_org):
    members = [builders.make_member(scim_org) for _ in range(3)]
    map_group(scim_org, make_group(scim_org, "Engineering", members), "member")
    page = owner_client.get(tab_url(scim_org)).content.decode()
    assert '<td class="member-count">3</td>' in page


def test_all_stacks_choice_is_saved(owner_client, scim_org, plain_member, web):
    group = make_group(scim_org, "Engineering", [plain_member])
    confirmed(owner_client, save_url(scim_org), form_data(group, "member", all_stacks_role=builtin("Admin").pk))
    assert GroupMapping.objects.get().all_stacks_role == builtin("Admin")
    builders.make_stack(scim_org, "Later")
    assert access_of(plain_member) == {("Web", "Admin"), ("Later", "Admin")}


def test_edit_link_fills_the_form_with_the_mapping(owner_client, scim_org, web):
    group = make_group(scim_org, "Engineering")
    mapping = map_group(scim_org, group, "admin", {web: "Developer"})
    page = owner_client.get(tab_url(scim_org), {"edit_mapping": mapping.pk}).content.decode()
    assert "Editing the mapping of <strong>Engineering</strong>" in page
    assert f'<option value="{group.pk}" selected>Engineering</option>' in page
    assert f'<option value="{builtin("Developer").pk}" selected>Developer</option>' in page


def test_edit_link_for_another_orgs_mapping_shows_an_empty_form(owner_client, scim_org, other_org):
    theirs = map_group(other_org, make_group(other_org, "Theirs"), "admin")
    page = owner_client.get(tab_url(scim_org), {"edit_mapping": theirs.pk}).content.decode()
    assert "Editing the mapping" not in page and "Theirs" not in page


def test_remove_asks_for_confirmation_then_removes(owner_client, scim_org, plain_member, web):
    group = make_group(scim_org, "Engineering", [plain_member])
    mapping = map_group(scim_org, group, "admin", {web: "Developer"})
    url = reverse("admin:mapping-delete", args=[scim_org.uid, mapping.pk])
    confirm = owner_client.get(url)
    assert confirm.status_code == 200
    assert "Remove the mapping of Engineering?" in confirm.content.decode()
    assert GroupMapping.objects.exists()
    again = owner_client.post(url)  # without the preview's fingerprint: the preview again, on a GET
    assert again.status_code == 302 and again["Location"] == url
    assert GroupMapping.objects.exists()
    response = owner_client.post(url, {"fingerprint": confirm.context["preview"].fingerprint})
    assert response.status_code == 302
    assert not GroupMapping.objects.exists()
    assert role_of(plain_member) == OrgRole.MEMBER and access_of(plain_member) == set()


# --- refusals ---------------------------------------------------------------------


def _assert_refused(response, message: str) -> None:
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not GroupMapping.objects.exists()


def test_another_orgs_group_is_a_form_error(owner_client, scim_org, other_org):
    _assert_refused(
        owner_client.post(save_url(scim_org), form_data(make_group(other_org, "Theirs"))), "Select a valid choice"
    )


def test_owner_as_the_mapped_role_is_a_form_error(owner_client, scim_org):
    _assert_refused(
        owner_client.post(save_url(scim_org), form_data(make_group(scim_org, "Eng"), "owner")), "Select a valid choice"
    )


def test_another_orgs_stack_is_a_form_error(owner_client, scim_org, other_org):
    theirs = builders.make_stack(other_org, "Their stack")
    data = form_data(make_group(scim_org, "Eng"), **{f"stack_{theirs.pk}": builtin("Admin").pk})
    _assert_refused(owner_client.post(save_url(scim_org), data), "does not belong to this organization")


def test_another_orgs_stack_role_is_a_form_error(owner_client, scim_org, other_org, web):
    theirs = org_services.create_stack_role(other_org, "Their role", actor=None)
    data = form_data(make_group(scim_org, "Eng"), **{f"stack_{web.pk}": theirs.pk})
    _assert_refused(owner_client.post(save_url(scim_org), data), "Select a valid choice")
    data = form_data(make_group(scim_org, "Ops"), all_stacks_role=theirs.pk)
    _assert_refused(owner_client.post(save_url(scim_org), data), "Select a valid choice")


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999"])
def test_garbage_ids_are_form_errors_not_500s(owner_client, scim_org, value):
    _assert_refused(owner_client.post(save_url(scim_org), {"group": value, "org_role": "admin"}), "Select a valid choice")


def test_saving_while_scim_is_off_is_refused(owner_client, org):
    group = make_group(org, "Eng")
    response = owner_client.post(save_url(org), form_data(group))
    assert response.status_code == 302
    assert not GroupMapping.objects.exists()


def test_get_on_the_save_url_is_not_allowed(owner_client, scim_org):
    assert owner_client.get(save_url(scim_org)).status_code == 405


# --- permissions ------------------------------------------------------------------


def test_plain_member_cannot_map_groups(client, scim_org, plain_member):
    client.force_login(plain_member.user)
    response = client.post(save_url(scim_org), form_data(make_group(scim_org, "Eng")))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not GroupMapping.objects.exists()


def test_admin_of_another_org_gets_404_everywhere(client, scim_org, other_org, plain_member):
    enable_scim(other_org)
    client.force_login(builders.owner_of(other_org).user)
    mapping = map_group(scim_org, make_group(scim_org, "Eng"), "admin")
    urls = [
        reverse("admin:mapping-delete", args=[scim_org.uid, mapping.pk]),
        reverse("admin:mapping-jobs", args=[scim_org.uid]),
        reverse("admin:member-access", args=[scim_org.uid, plain_member.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404
    assert client.post(save_url(scim_org), form_data(make_group(scim_org, "Ops"))).status_code == 404
    assert client.post(urls[0]).status_code == 404
    # Their own org's URL with our mapping id is a 404 too.
    assert client.post(reverse("admin:mapping-delete", args=[other_org.uid, mapping.pk])).status_code == 404
    assert GroupMapping.objects.count() == 1


# --- progress ---------------------------------------------------------------------


def test_a_running_recompute_shows_its_progress_on_the_tab(owner_client, scim_org):
    RecomputeJob.objects.create(
        organization=scim_org, reason="Mapping of Big saved", status="running", total=2000, done=500
    )
    RecomputeJob.objects.create(organization=scim_org, reason="Old", status="done", total=10, done=10)
    page = owner_client.get(tab_url(scim_org)).content.decode()
    assert 'max="2000" value="500"' in page and "Mapping of Big saved" in page
    assert "Old" not in page
    data = owner_client.get(reverse("admin:mapping-jobs", args=[scim_org.uid])).json()
    assert [(j["status"], j["done"], j["total"]) for j in data["jobs"]] == [("running", 500, 2000)]


# --- the "why" page ------------------------------------------------------------------


def test_member_access_page_shows_the_groups_and_grants_behind_each_role(owner_client, scim_org, plain_member, web):
    org_services.grant_stack_role(plain_member, web, builtin("Developer"), actor=None)
    map_group(scim_org, make_group(scim_org, "Engineering", [plain_member]), "admin", {web: "Developer"})
    map_group(scim_org, make_group(scim_org, "Ops", [plain_member]), "admin")
    url = reverse("admin:member-access", args=[scim_org.uid, plain_member.pk])
    page = owner_client.get(url).content.decode()
    org_role = page.split('id="org-role"')[1].split("</tr>")[0]
    assert "Admin" in org_role and "SCIM group Engineering" in org_role and "SCIM group Ops" in org_role
    assert "Granted by hand" not in org_role
    web_row = page.split('data-stack="Web" data-role="Developer"')[1].split("</tr>")[0]
    assert "Granted by hand" in web_row and "SCIM group Engineering" in web_row and "Ops" not in web_row


def test_member_access_page_of_another_orgs_member_is_404(owner_client, scim_org, other_org):
    theirs = builders.make_member(other_org)
    assert owner_client.get(reverse("admin:member-access", args=[scim_org.uid, theirs.pk])).status_code == 404


def test_member_access_page_runs_a_bounded_number_of_queries(
    owner_client, scim_org, plain_member, web, django_assert_max_num_queries
):
    for i in range(5):
        map_group(scim_org, make_group(scim_org, f"G{i}", [plain_member]), "member", {web: "Developer"})
    with django_assert_max_num_queries(20):
        owner_client.get(reverse("admin:member-access", args=[scim_org.uid, plain_member.pk]))


def _tab_queries(client, org) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(tab_url(org)).status_code == 200
    return len(ctx.captured_queries)


def test_scim_tab_query_count_does_not_grow_with_stacks_or_mappings(owner_client, scim_org):
    first = builders.make_stack(scim_org, "S0")
    map_group(scim_org, make_group(scim_org, "G0", [builders.make_member(scim_org)]), "admin", {first: "Admin"})
    baseline = _tab_queries(owner_client, scim_org)
    for i in range(1, 6):
        stack = builders.make_stack(scim_org, f"S{i}")
        map_group(scim_org, make_group(scim_org, f"G{i}", [builders.make_member(scim_org)]), "member", {stack: "Admin"})
    assert _tab_queries(owner_client, scim_org) == baseline


def test_a_group_deleted_while_the_form_was_open_is_a_form_error(owner_client, scim_org):
    group = make_group(scim_org, "Gone")
    data = form_data(group)
    from mappings.forms import GroupMappingForm

    form = GroupMappingForm(scim_org, data)
    assert form.is_valid()
    group.delete()
    from mappings.services import MappingError, save_mapping

    with pytest.raises(MappingError, match="no longer exists"):
        save_mapping(
            scim_org, form.cleaned_data["group"], org_role="admin", stack_roles={}, all_stacks_role=None, actor=None
        )


def test_a_failed_recompute_is_reported_until_a_later_job(owner_client, scim_org):
    RecomputeJob.objects.create(organization=scim_org, reason="Mapping of Big saved", status="failed", total=9, done=4)
    page = owner_client.get(tab_url(scim_org)).content.decode()
    assert 'id="recompute-failed"' in page and "4/9 members done" in page
    RecomputeJob.objects.create(organization=scim_org, reason="Again", status="done", total=9, done=9)
    assert 'id="recompute-failed"' not in owner_client.get(tab_url(scim_org)).content.decode()
