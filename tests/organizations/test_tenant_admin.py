"""The admin is tenant-scoped: an Owner/Admin runs only their own orgs, in
Organization Settings (another org's pages are a 404), never through the raw
model admin, which is for operators (superusers) only; a plain Member gets
nothing. Changes go through the services, so each leaves its audit entry."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import AuditEvent, Membership, Organization, OrgRole, Stack, StackRole, User
from tests import builders

pytestmark = pytest.mark.django_db

SETTINGS_PAGES = ["admin:org-settings", "admin:org-settings-members", "admin:org-settings-stacks"]


@pytest.fixture
def foreign(other_org):
    """Org B with a member, a stack and a custom role, seen from org A."""
    return {
        "org": other_org,
        "member": builders.make_member(other_org, "secret-person@globex.example"),
        "stack": builders.make_stack(other_org, "Globex Secret Stack"),
        "role": StackRole.objects.create(organization=other_org, name="Globex Secret Role"),
    }


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def settings_url(name: str, org) -> str:
    return reverse(name, args=[org.uid])


def post_form(client, urlname: str, org, form: str, **fields):
    """POST one of a settings tab's forms, as the page does (hidden `form` + prefixed fields)."""
    data = {"form": form, **{f"{form}-{k}": v for k, v in fields.items()}}
    return client.post(settings_url(urlname, org), data)


# --- Organization Settings pages ----------------------------------------------


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_owner_opens_their_own_settings_tabs(owner_client, org, page):
    response = owner_client.get(settings_url(page, org))
    assert response.status_code == 200
    content = response.content.decode()
    assert org.name in content
    for label in ("General", "Members", "Stacks", "SCIM"):
        assert f">{label}</a>" in content


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_owner_of_org_a_gets_404_for_org_b_settings(owner_client, foreign, page):
    response = owner_client.get(settings_url(page, foreign["org"]))
    assert response.status_code == 404
    assert foreign["org"].name.encode() not in response.content


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_posting_to_org_b_settings_is_404_and_changes_nothing(owner_client, foreign, page):
    response = post_form(owner_client, page, foreign["org"], "create-stack", name="Injected")
    assert response.status_code == 404
    assert not Stack.objects.filter(name="Injected").exists()


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_unknown_org_uid_is_404(owner_client, page):
    assert owner_client.get(reverse(page, args=["doesnotexist000000000"])).status_code == 404


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_plain_member_cannot_open_org_settings(client, org, plain_member, page):
    client.force_login(plain_member.user)
    response = client.get(settings_url(page, org))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_member_of_org_a_who_manages_org_b_gets_404_for_org_a(client, org, other_org, page):
    person = builders.make_member(org, "two-hats@example.com")
    builders.make_member(other_org, "two-hats@example.com", role=OrgRole.ADMIN)
    client.force_login(User.objects.get(pk=person.user_id))  # fresh: the password hash changed

    assert client.get(settings_url(page, org)).status_code == 404
    assert client.get(settings_url(page, other_org)).status_code == 200


def test_plain_member_signs_in_to_their_home_not_the_admin(client, plain_member):
    response = client.post(
        reverse("admin:login"), {"username": plain_member.user.email, "password": builders.PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("member_home")
    assert client.session["_auth_user_id"] == str(plain_member.user.pk)
    assert client.get(reverse("admin:index")).status_code == 302  # the admin stays closed to them


def test_member_opening_an_admin_url_is_told_why_on_their_home(client, plain_member, org):
    client.force_login(plain_member.user)
    response = client.get(reverse("admin:org-settings-scim", args=[org.uid]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("member_home")
    assert "Organization Settings are for Owners and Admins; here is your access." in response.content.decode()
    assert "Owners and Admins" not in client.get(reverse("member_home")).content.decode()  # said once


def test_admin_logs_in_with_email_in_any_case(client, admin_member):
    response = client.post(
        reverse("admin:login"), {"username": admin_member.user.email.upper(), "password": builders.PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_member.user.pk)


def test_admin_index_links_settings_of_managed_orgs_only(owner_client, org, other_org):
    response = owner_client.get(reverse("admin:index"))
    content = response.content.decode()
    assert settings_url("admin:org-settings", org) in content
    assert settings_url("admin:org-settings", other_org) not in content
    assert other_org.name not in content


def test_superuser_opens_any_org_settings(client, org, other_org):
    client.force_login(builders.make_operator())
    for page in SETTINGS_PAGES:
        assert client.get(settings_url(page, other_org)).status_code == 200


# --- Settings forms call the services -------------------------------------------


def test_rename_form_renames_and_audits(owner_client, org, owner):
    response = post_form(owner_client, "admin:org-settings", org, "rename", name="Acme Two")
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "Acme Two"
    assert AuditEvent.objects.filter(action="organization.rename", actor_id=str(owner.user.pk)).exists()


def test_blank_rename_shows_a_form_error(owner_client, org):
    response = post_form(owner_client, "admin:org-settings", org, "rename", name="  ")
    assert response.status_code == 200
    assert b"errorlist" in response.content
    org.refresh_from_db()
    assert org.name == "Acme"


def test_members_tab_adds_a_member_through_the_service(owner_client, org, owner):
    response = post_form(
        owner_client, "admin:org-settings-members", org, "add-member", email="New@Acme.example", role="admin",
        first_name="New", last_name="Person",
    )
    assert response.status_code == 302
    membership = Membership.objects.get(organization=org, user__email__iexact="new@acme.example")
    assert membership.role == OrgRole.ADMIN and membership.scim_username == membership.user.email
    assert AuditEvent.objects.filter(action="membership.add", actor_id=str(owner.user.pk)).exists()
    page = owner_client.get(response["Location"]).content.decode()
    assert f"{membership.user.email} was added as Admin." in page


def test_adding_an_existing_member_again_is_a_form_error(owner_client, org, plain_member):
    response = post_form(
        owner_client, "admin:org-settings-members", org, "add-member", email=plain_member.user.email.upper(),
        role="member", first_name="Plain", last_name="Member",
    )
    assert response.status_code == 200
    assert b"already a member" in response.content
    assert org.memberships.count() == 2


def test_the_owner_role_cannot_be_granted_by_the_add_form(owner_client, org):
    response = post_form(
        owner_client, "admin:org-settings-members", org, "add-member", email="x@acme.example", role="owner"
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user__email="x@acme.example").exists()


def test_members_tab_changes_a_role(owner_client, org, plain_member):
    response = post_form(
        owner_client, "admin:org-settings-members", org, "change-role", membership=plain_member.pk, role="admin"
    )
    assert response.status_code == 302
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.ADMIN
    assert AuditEvent.objects.filter(action="membership.change_role", target_id=str(plain_member.pk)).exists()


def test_change_role_cannot_pick_the_owner_or_another_orgs_member(owner_client, org, owner, foreign):
    for target in (owner, foreign["member"]):
        response = post_form(
            owner_client, "admin:org-settings-members", org, "change-role", membership=target.pk, role="member"
        )
        assert response.status_code == 200
        assert b"Select a valid choice" in response.content
    owner.refresh_from_db()
    foreign["member"].refresh_from_db()
    assert owner.role == OrgRole.OWNER and foreign["member"].role == OrgRole.MEMBER


def test_owner_transfers_ownership_from_the_members_tab(owner_client, org, owner, admin_member):
    response = post_form(
        owner_client, "admin:org-settings-members", org, "transfer-ownership", membership=admin_member.pk,
        typed_name=org.name,
    )
    assert response.status_code == 302
    assert builders.owner_of(org).pk == admin_member.pk
    owner.refresh_from_db()
    assert owner.role == OrgRole.ADMIN


def test_an_admin_cannot_make_themselves_owner(client, org, owner, admin_member):
    client.force_login(admin_member.user)
    page = client.get(settings_url("admin:org-settings-members", org)).content
    assert b"transfer-ownership-form" not in page

    post_form(client, "admin:org-settings-members", org, "transfer-ownership", membership=admin_member.pk,
              typed_name=org.name)

    assert builders.owner_of(org).pk == owner.pk


def test_members_tab_lists_only_this_orgs_people_with_stack_roles(owner_client, org, plain_member, foreign):
    stack = builders.make_stack(org, "Website")
    from organizations import services

    services.grant_stack_role(plain_member, stack, StackRole.objects.get(name="Developer"), actor=None)

    content = owner_client.get(settings_url("admin:org-settings-members", org)).content.decode()

    assert plain_member.user.email in content
    assert "Developer on Website" in content and "Granted by hand" in content
    assert foreign["member"].user.email not in content


def test_members_tab_query_count_does_not_grow_with_members(owner_client, org, django_assert_max_num_queries):
    stack = builders.make_stack(org)
    role = StackRole.objects.get(name="Developer")
    from organizations import services

    for _ in range(15):
        services.grant_stack_role(builders.make_member(org), stack, role, actor=None)
    with django_assert_max_num_queries(20):
        response = owner_client.get(settings_url("admin:org-settings-members", org))
    assert response.status_code == 200


def test_stacks_tab_creates_a_stack_and_a_custom_role(owner_client, org, foreign):
    assert post_form(owner_client, "admin:org-settings-stacks", org, "create-stack", name="Docs").status_code == 302
    assert post_form(
        owner_client, "admin:org-settings-stacks", org, "create-stack-role", name="Reviewer"
    ).status_code == 302

    content = owner_client.get(settings_url("admin:org-settings-stacks", org)).content.decode()
    assert "Docs" in content and "Reviewer" in content and "Content Manager" in content
    assert foreign["stack"].name not in content and foreign["role"].name not in content
    assert Stack.objects.get(name="Docs").organization == org


def test_duplicate_stack_name_is_a_form_error(owner_client, org):
    builders.make_stack(org, "Docs")
    response = post_form(owner_client, "admin:org-settings-stacks", org, "create-stack", name="docs")
    assert response.status_code == 200
    assert b"already exists" in response.content


def test_settings_forms_need_csrf(client, org, owner):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner.user)
    response = post_form(csrf_client, "admin:org-settings-stacks", org, "create-stack", name="NoToken")
    assert response.status_code == 403
    assert not Stack.objects.filter(name="NoToken").exists()


# --- The raw model admin: operators only ------------------------------------------
# Owners and Admins run their orgs in Organization Settings; every ModelAdmin URL
# answers them 403 (404 for the app index) and changes nothing. Superusers keep it.


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def raw_admin_urls(org, member, stack) -> list[str]:
    """Every page of the raw model admin, for objects of the viewer's own org."""
    role = StackRole.objects.create(organization=org, name="Reviewer")
    event = AuditEvent.objects.filter(organization=org).first()
    urls = [reverse("admin:app_list", args=["organizations"]), reverse("admin:app_list", args=["scim"]),
            reverse("admin:autocomplete") + "?app_label=organizations&model_name=stack&field_name=organization&term="]
    for model in (Organization, Membership, Stack, StackRole, AuditEvent, User):
        urls += [changelist_url(model), reverse(f"admin:organizations_{model._meta.model_name}_add")]
    for obj in (org, member, stack, role, event, member.user):
        name = f"admin:organizations_{obj._meta.model_name}"
        urls += [reverse(f"{name}_{view}", args=[obj.pk]) for view in ("change", "delete", "history")]
    return urls


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_never_reach_the_raw_model_admin(client, org, owner, admin_member, plain_member, who):
    from tests.hardening.snapshot import diff, snapshot

    client.force_login((owner if who == "owner" else admin_member).user)
    urls = raw_admin_urls(org, plain_member, builders.make_stack(org, "Web"))
    before = snapshot()
    for url in urls:
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
    posts = [
        (change_url(plain_member), {"manual_role": "admin", "stack_access-TOTAL_FORMS": "0", "stack_access-INITIAL_FORMS": "0"}),
        (reverse("admin:organizations_membership_delete", args=[plain_member.pk]), {"post": "yes"}),
        (reverse("admin:organizations_membership_add"), {"organization": org.pk, "email": "x@acme.example", "role": "admin"}),
        (changelist_url(Membership), {"action": "transfer_ownership", "_selected_action": [plain_member.pk]}),
        (reverse("admin:organizations_stack_add"), {"organization": org.pk, "name": "Api"}),
        (change_url(org), {"name": "Renamed"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    after = snapshot()
    assert after == before, diff(before, after)


def test_the_admin_home_of_an_owner_lists_their_orgs_and_no_model_admin(owner_client, org):
    page = owner_client.get(reverse("admin:index")).content.decode()
    assert settings_url("admin:org-settings", org) in page
    assert settings_url("admin:org-settings-audit", org) in page
    for raw in ("/admin/organizations/", "Memberships", "Stack roles", "addlink", "Recent actions"):
        assert raw not in page, raw
    settings = owner_client.get(settings_url("admin:org-settings", org)).content.decode()
    assert 'id="nav-sidebar"' not in settings and "/admin/organizations/" not in settings


@pytest.fixture
def operator_client(client):
    client.force_login(builders.make_operator())
    return client


def test_an_operator_keeps_the_raw_model_admin(operator_client, org, plain_member):
    index = operator_client.get(reverse("admin:index")).content.decode()
    assert "/admin/organizations/membership/" in index and 'id="operator-admin"' in index
    urls = raw_admin_urls(org, plain_member, builders.make_stack(org, "Web"))
    # Deleting and adding audit rows is refused to everyone (the admin's own rules).
    for url in [u for u in urls if not u.endswith(("/delete/", "auditevent/add/"))]:
        assert operator_client.get(url).status_code == 200, url


def test_audit_events_are_read_only(operator_client, org):
    event = AuditEvent.objects.filter(organization=org).first()
    response = operator_client.post(change_url(event), {"action": "forged"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.action != "forged"
    assert operator_client.get(reverse("admin:organizations_auditevent_add")).status_code == 403


def test_audit_changelist_filters_by_action_and_actor_type(operator_client, org, plain_member):
    response = operator_client.get(changelist_url(AuditEvent), {"action": "membership.add", "actor_type": "system"})
    actions = {e.action for e in response.context["cl"].result_list}
    assert actions == {"membership.add"}


def test_adding_a_member_in_the_admin_goes_through_the_service(operator_client, org, owner):
    response = operator_client.post(
        reverse("admin:organizations_membership_add"),
        {"organization": org.pk, "email": "via-admin@acme.example", "role": "member"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="via-admin@acme.example")
    assert membership.email_set.filter(primary=True).exists()  # only the service creates this
    assert AuditEvent.objects.filter(action="membership.add", target_id=str(membership.pk)).exists()


def test_changing_a_role_in_the_admin_goes_through_the_service(operator_client, plain_member):
    inline_management = {"stack_access-TOTAL_FORMS": "0", "stack_access-INITIAL_FORMS": "0"}
    response = operator_client.post(change_url(plain_member), {"manual_role": "admin", **inline_management})
    assert response.status_code == 302
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.ADMIN
    assert AuditEvent.objects.filter(action="membership.change_role", target_id=str(plain_member.pk)).exists()


def test_owner_membership_is_read_only_in_the_admin(operator_client, owner):
    response = operator_client.post(change_url(owner), {"manual_role": "member"})
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == OrgRole.OWNER


def test_the_raw_admin_offers_no_ownership_transfer(operator_client, org, owner, plain_member):
    """Ownership passes only on the Members tab, after the Owner types the org's name."""
    operator_client.post(
        changelist_url(Membership), {"action": "transfer_ownership", "_selected_action": [plain_member.pk]}
    )
    assert builders.owner_of(org).pk == owner.pk


def test_deleting_a_member_in_the_admin_uses_the_service(operator_client, plain_member):
    response = operator_client.post(reverse("admin:organizations_membership_delete", args=[plain_member.pk]),
                                    {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=plain_member.pk).exists()
    assert AuditEvent.objects.filter(action="membership.remove", target_id=str(plain_member.pk)).exists()


def test_adding_a_stack_in_the_admin_goes_through_the_service(operator_client, org):
    response = operator_client.post(reverse("admin:organizations_stack_add"), {"organization": org.pk, "name": "Api"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="stack.create", target_label="Api").exists()


def test_builtin_stack_roles_are_read_only(operator_client):
    builtin = StackRole.objects.get(name="Admin", builtin=True)
    assert operator_client.get(change_url(builtin)).status_code == 200  # viewable
    response = operator_client.post(change_url(builtin), {"name": "Hacked"})
    assert response.status_code == 403
    builtin.refresh_from_db()
    assert builtin.name == "Admin"


def test_a_rejected_admin_post_leaves_no_change_behind(operator_client, plain_member):
    # No inline management form: the admin re-renders the page, and what the
    # service wrote while the form validated is rolled back.
    response = operator_client.post(change_url(plain_member), {"manual_role": "admin"})

    assert response.status_code == 200
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.MEMBER
    assert not AuditEvent.objects.filter(action="membership.change_role").exists()


def test_role_change_refused_by_the_service_is_a_form_error(operator_client, org, plain_member, monkeypatch):
    from organizations import services

    def refuse(*args, **kwargs):
        raise services.ServiceError("Refused for a reason the user can read.")

    monkeypatch.setattr(services, "change_role", refuse)
    response = operator_client.post(
        change_url(plain_member),
        {"manual_role": "admin", "stack_access-TOTAL_FORMS": "0", "stack_access-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    assert b"Refused for a reason the user can read." in response.content
