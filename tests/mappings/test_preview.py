"""The preview of a mapping change says exactly what Confirm then does, and
Confirm applies only what was previewed."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mappings.models import GroupMapping
from mappings.preview import REMOVED, Proposal, preview_mapping
from organizations import services
from organizations.models import AccessSource, Membership, OrgRole, StackAccess
from scim import provisioning
from tests import builders
from tests.builders import builtin, make_group, map_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(scim_org):
    """Eng (mapped Member + Developer on Web) with: a plain member, one who is Admin
    by hand, one in another Admin group that also grants Developer on Web, one
    holding Developer on Web by hand, one deactivated."""
    org = scim_org
    web, docs = builders.make_stack(org, "Web"), builders.make_stack(org, "Docs")
    plain = builders.make_member(org, "plain@acme.example")
    boss = builders.make_member(org, "boss@acme.example", role=OrgRole.ADMIN)
    ops_person = builders.make_member(org, "ops@acme.example")
    manual = builders.make_member(org, "manual@acme.example")
    gone = builders.make_member(org, "gone@acme.example")
    services.grant_stack_role(manual, web, builtin("Developer"), actor=None)
    eng = make_group(org, "Eng", [plain, boss, ops_person, manual, gone])
    ops = make_group(org, "Ops", [ops_person])
    map_group(org, ops, "admin", {web: "Developer"})
    map_group(org, eng, "member", {web: "Developer"})
    services.set_member_active(gone, False, actor=None)
    return {"org": org, "web": web, "docs": docs, "eng": eng, "plain": plain, "boss": boss, "ops": ops_person,
            "manual": manual, "gone": gone}


def held(org) -> dict[str, tuple[str, frozenset]]:
    out = {}
    for m in Membership.objects.filter(organization=org).select_related("user"):
        rows = StackAccess.objects.filter(membership=m).values_list("stack__name", "role__name")
        out[m.user.email] = (m.role, frozenset(rows))
    return out


def changes(before: dict, after: dict) -> dict:
    return {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}


def test_preview_of_an_update_counts_what_saving_then_changes(world):
    org, docs, eng = world["org"], world["docs"], world["eng"]
    proposal = Proposal("admin", frozenset({(docs.pk, builtin("Content Manager").pk)}), None)
    preview = preview_mapping(org, eng, proposal)
    # Admin: plain and manual become Admin (boss already is, ops is via Ops, gone is deactivated).
    assert (preview.members, preview.inactive) == (4, 1)
    assert preview.admins_gained == 2 and preview.admins_lost == 0
    assert sorted(preview.admin_gain_sample) == ["manual@acme.example", "plain@acme.example"]
    assert [(c.stack, c.role, c.count) for c in preview.gains] == [("Docs", "Content Manager", 4)]
    # Developer on Web is lost by plain and boss only: ops keeps it from Ops, manual holds it by hand.
    assert [(c.stack, c.role, c.count) for c in preview.losses] == [("Web", "Developer", 2)]
    assert sorted(preview.losses[0].sample) == ["boss@acme.example", "plain@acme.example"]

    before = held(org)
    map_group(org, eng, "admin", {docs: "Content Manager"})
    diff = changes(before, held(org))
    gained_admin = [k for k, (b, a) in diff.items() if b[0] == OrgRole.MEMBER and a[0] == OrgRole.ADMIN]
    lost_web = [k for k, (b, a) in diff.items() if ("Web", "Developer") in b[1] and ("Web", "Developer") not in a[1]]
    gained_docs = [k for k, (b, a) in diff.items() if ("Docs", "Content Manager") in a[1] - b[1]]
    assert len(gained_admin) == preview.admins_gained
    assert len(lost_web) == preview.losses[0].count
    assert len(gained_docs) == preview.gains[0].count


def test_preview_of_a_removal_counts_what_removing_then_changes(world):
    org, eng = world["org"], world["eng"]
    map_group(org, eng, "admin", {world["web"]: "Developer"})
    preview = preview_mapping(org, eng, REMOVED)
    assert preview.removal
    # boss stays Admin by hand, ops via Ops: plain and manual lose it.
    assert preview.admins_lost == 2 and preview.admins_gained == 0
    assert [(c.stack, c.role, c.count) for c in preview.losses] == [("Web", "Developer", 2)]
    before = held(org)
    GroupMapping.objects.get(group=eng).delete()
    from mappings.services import recompute_memberships

    recompute_memberships(Membership.objects.filter(organization=org).values_list("pk", flat=True), actor=None)
    diff = changes(before, held(org))
    assert len([k for k, (b, a) in diff.items() if b[0] == "admin" and a[0] == "member"]) == 2


def test_update_shows_the_preview_and_confirm_applies_it(client, world, owner):
    org, eng, docs = world["org"], world["eng"], world["docs"]
    client.force_login(owner.user)
    url = reverse("admin:mapping-save", args=[org.uid])
    data = {"group": eng.pk, "org_role": "admin", "all_stacks_role": "", f"stack_{docs.pk}": builtin("Admin").pk}
    posted = client.post(url, data)
    assert posted.status_code == 302  # Post/Redirect/Get: the preview is a GET
    preview = client.get(posted["Location"])
    page = preview.content.decode()
    assert preview.status_code == 200 and "what will change" in page
    assert client.get(posted["Location"]).status_code == 200  # Reload shows it again, nothing re-posted
    assert 'data-change="org-role-admin-gain"' in page and "Gain <strong>Admin</strong> on Docs" in page
    assert GroupMapping.objects.get(group=eng).org_role == "member"  # nothing applied yet
    done = client.post(url, {**data, "fingerprint": preview.context["preview"].fingerprint})
    assert done.status_code == 302
    world["plain"].refresh_from_db()
    assert world["plain"].role == OrgRole.ADMIN


def test_confirm_after_the_group_changed_shows_the_new_preview_and_applies_nothing(client, world, owner):
    org, eng = world["org"], world["eng"]
    client.force_login(owner.user)
    url = reverse("admin:mapping-save", args=[org.uid])
    data = {"group": eng.pk, "org_role": "admin", "all_stacks_role": ""}
    fingerprint = client.post(url, data, follow=True).context["preview"].fingerprint
    newcomer = builders.make_member(org, "new@acme.example")
    provisioning.change_group_members(eng, add=[newcomer.pk], actor=None)  # the IdP pushes a member meanwhile

    again = client.post(url, {**data, "fingerprint": fingerprint}, follow=True)
    assert again.redirect_chain[0][1] == 302 and "changed=1" in again.redirect_chain[0][0]
    assert "changed since the preview" in again.content.decode()
    assert again.context["preview"].admins_gained == 3  # the newcomer counted
    assert GroupMapping.objects.get(group=eng).org_role == "member"
    assert client.post(url, {**data, "fingerprint": again.context["preview"].fingerprint}).status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.role == OrgRole.ADMIN


def test_confirm_after_another_groups_mapping_changed_shows_the_preview_again(client, world, owner):
    """Ops's mapping decides what Eng's members keep: editing it meanwhile stales the preview."""
    org, eng, web = world["org"], world["eng"], world["web"]
    client.force_login(owner.user)
    url = reverse("admin:mapping-save", args=[org.uid])
    data = {"group": eng.pk, "org_role": "member", "all_stacks_role": ""}  # drops Developer on Web
    fingerprint = client.post(url, data, follow=True).context["preview"].fingerprint
    map_group(org, make_group(org, "Web team", [world["plain"]]), "member", {web: "Developer"})

    again = client.post(url, {**data, "fingerprint": fingerprint}, follow=True)
    assert again.redirect_chain[0][1] == 302 and "changed since the preview" in again.content.decode()
    assert GroupMapping.objects.get(group=eng).stack_roles.exists()  # nothing applied


def test_remove_preview_then_confirm(client, world, owner):
    org, eng = world["org"], world["eng"]
    client.force_login(owner.user)
    mapping = GroupMapping.objects.get(group=eng)
    url = reverse("admin:mapping-delete", args=[org.uid, mapping.pk])
    preview = client.get(url)
    assert "Lose <strong>Developer</strong> on Web" in preview.content.decode()
    stale = client.post(url, {"fingerprint": "stale"})
    assert stale.status_code == 302 and stale["Location"] == f"{url}?changed=1"
    assert "changed since the preview" in client.get(stale["Location"]).content.decode()
    assert GroupMapping.objects.filter(pk=mapping.pk).exists()
    assert client.post(url, {"fingerprint": preview.context["preview"].fingerprint}).status_code == 302
    assert not GroupMapping.objects.filter(pk=mapping.pk).exists()
    assert not StackAccess.objects.filter(membership=world["plain"], source=AccessSource.SCIM).exists()


def test_confirmed_preview_reloaded_or_reached_by_back_offers_no_second_confirm(client, world, owner):
    org, eng = world["org"], world["eng"]
    client.force_login(owner.user)
    url = reverse("admin:mapping-save", args=[org.uid])
    data = {"group": eng.pk, "org_role": "admin", "all_stacks_role": ""}
    posted = client.post(url, data)
    preview_url = posted["Location"]
    assert "proposal=" in preview_url
    preview = client.get(preview_url)
    key = preview_url.split("proposal=")[1]
    done = client.post(url, {**data, "proposal": key, "fingerprint": preview.context["preview"].fingerprint})
    assert done.status_code == 302
    back = client.get(preview_url)  # Back after Confirm: a GET, no resubmission
    assert back.status_code == 200
    page = back.content.decode()
    assert 'id="preview-confirmed"' in page and 'id="mapping-confirm"' not in page


def test_a_preview_key_of_another_session_or_org_is_not_shown(client, world, owner, other_org):
    org = world["org"]
    client.force_login(owner.user)
    response = client.get(reverse("admin:mapping-preview", args=[org.uid]) + "?proposal=unknown")
    assert response.status_code == 302 and "#group-mapping" in response["Location"]


def test_preview_statements_do_not_grow_with_the_group(world, django_assert_max_num_queries):
    org, eng = world["org"], world["eng"]
    from tests.builders import bulk_members
    from scim.models import ScimGroupMember

    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=eng, membership=m) for m in bulk_members(org, 200))
    with django_assert_max_num_queries(20):
        preview = preview_mapping(org, eng, Proposal("admin", frozenset(), builtin("Admin").pk))
    assert preview.members == 204 and preview.admins_gained == 202


def test_samples_come_from_the_whole_group_when_its_first_members_are_not_affected(scim_org):
    """The sample names are looked for among the group's first SAMPLE_WINDOW
    members (mappings.preview._Samples); when fewer are affected there, the
    whole group is read, and the names are still those of members who change."""
    from mappings.preview import SAMPLE_SIZE, SAMPLE_WINDOW

    org, web = scim_org, builders.make_stack(scim_org, "Web")
    dev = builtin("Developer")
    members = builders.bulk_members(org, SAMPLE_WINDOW + 8)
    holders, gainers = members[:SAMPLE_WINDOW], members[SAMPLE_WINDOW:]
    StackAccess.objects.bulk_create(
        [StackAccess(membership=m, stack=web, role=dev, source=AccessSource.MANUAL) for m in holders])
    group = make_group(org, "Big", members)
    preview = preview_mapping(org, group, Proposal("member", frozenset({(web.pk, dev.pk)}), None))
    assert [(c.stack, c.role, c.count) for c in preview.gains] == [("Web", "Developer", len(gainers))]
    sample = preview.gains[0].sample
    assert len(sample) == SAMPLE_SIZE
    assert {s.split("<")[-1].rstrip(">") for s in sample} <= {m.scim_username for m in gainers}
