"""Guardrails on irreversible actions, and role changes that say what really
happened: ownership passes only to someone who can sign in after the Owner
typed the org's name (and they are told by e-mail); nobody loses their own
access without a page saying so; the last Owner or Admin who can sign in
cannot be removed, deactivated or demoted. Every refusal changes nothing."""
from __future__ import annotations

import html

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import AuditEvent, Membership, OrgRole
from organizations.signin.saml.models import SsoSettings
from tests import builders
from tests.builders import make_group, map_group

pytestmark = pytest.mark.django_db

TRANSFER = "transfer-ownership"


@pytest.fixture
def scim_only(org):
    """Provisioned by the IdP, never accepted an invitation: no password, no SSO."""
    m = builders.make_member(org, "Provisioned@acme.example")
    m.user.set_unusable_password()
    m.user.save()
    Membership.objects.filter(pk=m.pk).update(scim_managed=True)
    return m


def members_url(org) -> str:
    return reverse("admin:org-settings-members", args=[org.uid])


def post_form(client, org, form: str, **fields):
    data = {"form": form, **{f"{form}-{k}": v for k, v in fields.items()}}
    return client.post(members_url(org), data)


def state(org) -> list[tuple]:
    """Everything a refused change must leave as it was."""
    rows = Membership.objects.filter(organization=org).order_by("pk")
    return [*rows.values_list("pk", "role", "manual_role", "active"), AuditEvent.objects.count()]


def text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- transferring ownership ------------------------------------------------------


def test_ownership_passes_after_typing_the_name_and_the_new_owner_is_told_by_email(
    owner_client, org, owner, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_form(owner_client, org, TRANSFER, membership=admin_member.pk, typed_name="Acme")
    assert response.status_code == 302
    assert builders.owner_of(org).pk == admin_member.pk
    owner.refresh_from_db()
    assert owner.role == OrgRole.ADMIN
    [sent] = mailoutbox
    assert sent.to == ["admin@acme.example"]
    assert sent.subject == "You are now the Owner of Acme on Orgdesk"
    assert f"{owner.user.email} made you the Owner of Acme" in sent.body
    assert f"/admin/orgs/{org.uid}/settings/" in sent.body
    page = owner_client.get(response.url)
    assert "admin@acme.example is now the Owner of Acme and has been told by e-mail" in messages_of(page)[0]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong-name", 'Type the organization\'s name exactly as it is ("Acme")'),
        ("cannot-sign-in", "Ownership can only pass to someone who can sign in. Provisioned@acme.example cannot sign in"),
        ("deactivated", "Select a valid choice"),
    ],
)
def test_a_refused_transfer_changes_nothing_and_sends_nothing(
    owner_client, org, admin_member, scim_only, mailoutbox, django_capture_on_commit_callbacks, case, expected
):
    target, typed = {"wrong-name": (admin_member, "acme"), "cannot-sign-in": (scim_only, "Acme"),
                     "deactivated": (admin_member, "Acme")}[case]
    if case == "deactivated":
        services.set_member_active(admin_member, False, actor=None)
    before = state(org)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_form(owner_client, org, TRANSFER, membership=target.pk, typed_name=typed)
    assert response.status_code == 200
    assert expected in text(response)
    assert state(org) == before
    assert mailoutbox == [] and callbacks == []


def test_the_service_refuses_a_deactivated_or_unreachable_new_owner(org, owner, scim_only, admin_member):
    services.set_member_active(admin_member, False, actor=None)
    before = state(org)
    for target, reason in ((admin_member, "deactivated"), (scim_only, "cannot sign in")):
        with pytest.raises(services.ServiceError, match=reason):
            services.transfer_ownership(org, target, actor=owner.user, typed_name="Acme")
    assert state(org) == before


def test_someone_without_a_password_can_take_over_where_the_org_signs_in_by_sso(org, owner, scim_only, mailoutbox):
    SsoSettings.objects.create(
        organization=org, signin_name="acme", idp_entity_id="https://idp.example", idp_sso_url="https://idp.example/sso",
        idp_x509_cert="-----BEGIN CERTIFICATE-----x-----END CERTIFICATE-----", enabled=True,
    )
    services.transfer_ownership(org, scim_only, actor=owner.user, typed_name="Acme")
    assert builders.owner_of(org).pk == scim_only.pk


# --- nobody loses their own access without being told -----------------------------


def test_an_admin_demoting_themselves_sees_what_they_lose_first(client, org, admin_member):
    client.force_login(admin_member.user)
    before = state(org)
    response = post_form(client, org, "change-role", membership=admin_member.pk, role="member")
    assert response.status_code == 200
    page = text(response)
    assert "Change your own role in Acme to Member?" in page
    assert "You will no longer be able to open Organization Settings of Acme." in page
    assert state(org) == before  # asked, not done

    response = client.post(members_url(org), {
        "form": "change-role", "change-role-membership": admin_member.pk, "change-role-role": "member",
        "confirm_loss": "yes",
    })
    assert response.status_code == 302 and response.url == reverse("member_home")
    admin_member.refresh_from_db()
    assert admin_member.role == OrgRole.MEMBER
    home = client.get(response.url)
    assert home.status_code == 200
    assert messages_of(home) == [
        "You now have the role Member in Acme (default role); you can no longer open its Organization Settings."
    ]


def test_the_member_page_asks_too_and_cancel_changes_nothing(client, org, admin_member):
    client.force_login(admin_member.user)
    url = reverse("admin:member-detail", args=[org.uid, admin_member.pk])
    before = state(org)
    response = client.post(url, {"role": "member"})
    assert "You will no longer be able to open Organization Settings of Acme." in text(response)
    assert f'href="{members_url(org)}" class="button od-cancel cancel-link">Cancel' in text(response)
    assert state(org) == before


def test_deactivating_oneself_says_so_and_signs_out_someone_with_no_other_org(client, org, admin_member):
    client.force_login(admin_member.user)
    url = reverse("admin:member-deactivate", args=[org.uid, admin_member.pk])
    page = text(client.get(url))
    assert "You will lose all access to Acme" in page
    assert "You belong to no other organization, so you will be signed out." in page
    before = state(org)
    response = client.post(url)  # no confirmation posted: asked again
    assert response.status_code == 200 and "You will lose all access to Acme" in text(response)
    assert state(org) == before

    response = client.post(url, {"confirm_loss": "yes"})
    assert response.status_code == 302 and response.url == reverse("admin:login")
    admin_member.refresh_from_db()
    assert not admin_member.active
    login = client.get(response.url)
    assert messages_of(login) == [
        "You were deactivated in Acme. You belong to no other organization, so you are signed out."
    ]


def test_removing_oneself_lands_on_ones_home_when_one_belongs_elsewhere(client, org, other_org, admin_member):
    builders.make_member(other_org, admin_member.user.email)
    admin_member.user.refresh_from_db()  # make_member set the account's password again
    client.force_login(admin_member.user)
    url = reverse("admin:member-remove", args=[org.uid, admin_member.pk])
    assert "You will no longer be a member of Acme" in text(client.get(url))
    response = client.post(url, {"confirm_loss": "yes"})
    assert response.url == reverse("member_home")
    assert not Membership.objects.filter(pk=admin_member.pk).exists()
    assert messages_of(client.get(response.url)) == ["You were removed from Acme."]


def test_demoting_oneself_while_a_group_keeps_one_admin_asks_nothing(client, org, admin_member):
    map_group(org, make_group(org, "Engineering", [admin_member]), org_role="admin")
    client.force_login(admin_member.user)
    response = post_form(client, org, "change-role", membership=admin_member.pk, role="member")
    assert response.status_code == 302 and response.url == members_url(org)
    admin_member.refresh_from_db()
    assert (admin_member.role, admin_member.manual_role) == (OrgRole.ADMIN, OrgRole.MEMBER)


# --- the last Owner or Admin who can sign in ------------------------------------


@pytest.fixture
def unreachable_owner(org, owner):
    """A state the guardrails must keep an org out of: an Owner nobody can sign in as."""
    owner.user.set_unusable_password()
    owner.user.save()
    return owner


@pytest.fixture
def operator_client(client):

    client.force_login(builders.make_operator("operator@orgdesk.example"))
    return client


@pytest.mark.parametrize("action", ["demote", "deactivate", "remove"])
def test_the_last_admin_who_can_sign_in_stays(operator_client, org, unreachable_owner, admin_member, action):
    before = state(org)
    if action == "demote":
        response = post_form(operator_client, org, "change-role", membership=admin_member.pk, role="member")
        assert response.status_code == 200
        said = text(response)
    else:
        url = reverse(f"admin:member-{action}", args=[org.uid, admin_member.pk])
        asked = operator_client.get(url, follow=True)  # refused before asking
        assert "admin@acme.example is the last Owner or Admin of Acme who can sign in" in messages_of(asked)[0]
        response = operator_client.post(url, {"confirm_loss": "yes"}, follow=True)
        said = " ".join(messages_of(response))
    assert "admin@acme.example is the last Owner or Admin of Acme who can sign in" in said
    assert state(org) == before


@pytest.mark.parametrize("action", ["demote", "deactivate", "remove"])
def test_the_last_admin_cannot_take_themselves_out_even_after_confirming(client, org, unreachable_owner, admin_member,
                                                                         action):
    client.force_login(admin_member.user)
    before = state(org)
    call = {
        "demote": lambda: services.change_role(admin_member, OrgRole.MEMBER, actor=admin_member.user, confirmed=True),
        "deactivate": lambda: services.set_member_active(admin_member, False, actor=admin_member.user, confirmed=True),
        "remove": lambda: services.remove_member(admin_member, actor=admin_member.user, confirmed=True),
    }[action]
    with pytest.raises(services.LastAdminError, match="You are the last Owner or Admin of Acme who can sign in"):
        call()
    assert state(org) == before


def test_another_admin_who_can_sign_in_lets_one_go(org, unreachable_owner, admin_member):
    builders.make_member(org, "second@acme.example", role=OrgRole.ADMIN)
    services.remove_member(admin_member, actor=None)
    assert not Membership.objects.filter(pk=admin_member.pk).exists()


def test_the_raw_admin_lists_the_last_admin_as_protected(operator_client, org, unreachable_owner, admin_member):
    url = reverse("admin:organizations_membership_delete", args=[admin_member.pk])
    page = text(operator_client.get(url))
    assert "the last Owner or Admin who can sign in" in page
    operator_client.post(url, {"post": "yes"})
    assert Membership.objects.filter(pk=admin_member.pk).exists()


def test_a_mapping_edit_by_hand_cannot_take_admin_from_the_last_one_who_can_sign_in(org, unreachable_owner,
                                                                                  plain_member):
    from mappings.models import GroupMapping
    from mappings.services import delete_mapping

    mapping = map_group(org, make_group(org, "Engineering", [plain_member]), org_role="admin")
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.ADMIN
    before = state(org)
    for change in (lambda: map_group(org, mapping.group, org_role="member", actor=plain_member.user),
                   lambda: delete_mapping(mapping, actor=plain_member.user)):
        with pytest.raises(services.LastAdminError, match="is Admin through the SCIM group Engineering"):
            change()
    assert state(org) == before
    assert GroupMapping.objects.get(pk=mapping.pk).org_role == OrgRole.ADMIN

    services.change_role(plain_member, OrgRole.ADMIN, actor=None)  # Admin by hand too: the mapping may go
    delete_mapping(mapping, actor=plain_member.user)
    assert Membership.objects.get(pk=plain_member.pk).role == OrgRole.ADMIN


def test_the_identity_provider_is_not_held_back(org, unreachable_owner, admin_member):
    """SCIM DELETE removes whom the IdP says, even the last Admin who can sign in: the IdP is
    the source of truth for the people it manages."""
    from scim.provisioning import delete_membership

    class App:
        def audit_actor(self):
            return ("installation", "1", "Okta")

    delete_membership(admin_member, actor=App())
    assert not Membership.objects.filter(pk=admin_member.pk).exists()


# --- role changes say the role the member really has, and why ------------------


def test_a_role_a_group_grants_stays_and_the_message_says_why(owner_client, org, plain_member):
    map_group(org, make_group(org, "Engineering", [plain_member]), org_role="admin")
    plain_member.refresh_from_db()
    assert plain_member.role == OrgRole.ADMIN
    response = post_form(owner_client, org, "change-role", membership=plain_member.pk, role="member")
    page = owner_client.get(response.url)
    [message] = page.context["messages"]
    assert message.level_tag == "warning"
    assert str(message) == (
        "member@acme.example still has the role Admin: it comes from SCIM group Engineering. The role granted by hand "
        "is now Member and applies once no mapped group grants more; to change the role they have, change the group "
        "mapping or the group."
    )
    why = text(owner_client.get(reverse("admin:member-access", args=[org.uid, plain_member.pk])))
    assert "Role granted by hand: Member (applies when no mapped group grants more)" in why
    row = text(page).split('data-member="member@acme.example"')[1].split("</tr>")[0]
    assert "SCIM group Engineering; without it: Member (default role)" in row
    detail = text(owner_client.get(reverse("admin:member-detail", args=[org.uid, plain_member.pk])))
    assert "(SCIM group Engineering; without it: Member (default role))" in detail


def test_a_role_granted_by_hand_says_so(owner_client, org, plain_member):
    response = post_form(owner_client, org, "change-role", membership=plain_member.pk, role="admin")
    assert messages_of(owner_client.get(response.url)) == ["member@acme.example now has the role Admin (granted by hand)."]


def test_messages_never_capitalise_an_email(owner_client, org, mailoutbox):
    response = post_form(owner_client, org, "add-member", email="bob@newhire.example", role="member",
                         first_name="Bob", last_name="New")
    page = text(owner_client.get(response.url))
    assert "<li class=\"success\">bob@newhire.example was added as Member." in page
    assert "Bob@newhire" not in page


def test_the_change_role_picker_lists_members_in_the_tables_order(owner_client, org, owner):
    for email in ("zoe@acme.example", "Adam@acme.example", "bea@acme.example", "Carl@acme.example"):
        builders.make_member(org, email)
    table = text(owner_client.get(members_url(org)))
    rows = [chunk.split('"')[0] for chunk in table.split('data-member="')[1:]]
    rows = [r for r in rows if r != owner.user.email]
    for term in ("", "acme.example"):
        picker = owner_client.get(reverse("admin:member-picker", args=[org.uid]), {"scope": "non-owner", "term": term})
        assert [r["text"].split(" ")[0] for r in picker.json()["results"]] == rows
    assert rows == sorted(rows, key=str.lower)
