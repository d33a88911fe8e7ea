"""Enabling and disabling SCIM: the services, their audit trail, and the SCIM tab."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from organizations import audit_actions
from organizations.models import AuditEvent, Plan
from scim import installations
from scim.models import AppInstallation, MarketplaceApp, SecretToken
from scim.tokens import Refusal, check
from tests import builders

pytestmark = pytest.mark.django_db


def tab_url(org) -> str:
    return reverse("admin:org-settings-scim", args=[org.uid])


def enable_url(org) -> str:
    return reverse("admin:org-settings-scim-enable", args=[org.uid])


def disable_url(org) -> str:
    return reverse("admin:org-settings-scim-disable", args=[org.uid])


# ---- services ---------------------------------------------------------------


def test_owner_enables_scim_and_it_is_audited(org, owner):
    installations.enable_scim(org, actor=owner.user)

    org.refresh_from_db()
    assert org.scim_enabled and org.scim_enabled_at is not None
    event = AuditEvent.objects.get(organization=org, action=audit_actions.SCIM_ENABLE)
    assert event.actor_label == owner.user.email
    assert (event.before, event.after) == ({"scim_enabled": False}, {"scim_enabled": True})


def test_enabling_twice_records_one_audit_entry(org, admin_member):
    installations.enable_scim(org, actor=admin_member.user)
    installations.enable_scim(org, actor=admin_member.user)

    assert AuditEvent.objects.filter(organization=org, action=audit_actions.SCIM_ENABLE).count() == 1


@pytest.mark.parametrize("role", ["member", "other_org_owner", "inactive_admin"])
def test_only_active_owner_or_admin_may_enable(org, other_org, role):
    if role == "member":
        actor = builders.make_member(org).user
    elif role == "other_org_owner":
        actor = builders.owner_of(other_org).user
    else:
        membership = builders.make_member(org, role="admin")
        membership.active = False
        membership.save(update_fields=["active"])
        actor = membership.user

    with pytest.raises(installations.ScimPermissionDenied):
        installations.enable_scim(org, actor=actor)

    org.refresh_from_db()
    assert not org.scim_enabled
    assert not AuditEvent.objects.filter(action=audit_actions.SCIM_ENABLE).exists()


def test_superuser_may_enable_any_org(org, django_user_model):
    root = django_user_model.objects.create_superuser("root@example.com", "x")
    installations.enable_scim(org, actor=root)
    org.refresh_from_db()
    assert org.scim_enabled


def test_plan_without_scim_cannot_enable(db):
    org = builders.make_org("Small", plan=Plan.TEAM)
    with pytest.raises(installations.ScimNotAvailable, match="does not include SCIM"):
        installations.enable_scim(org, actor=builders.owner_of(org).user)
    org.refresh_from_db()
    assert not org.scim_enabled


def test_disabling_deletes_nothing_and_tokens_stop_until_enabled_again(org, owner):
    installations.enable_scim(org, actor=owner.user)
    app = MarketplaceApp.objects.get(slug="okta-generic-scim")
    installation, issued = installations.install_app(org, app, actor=owner.user)
    assert isinstance(check(issued.secret, org.uid), SecretToken)

    installations.disable_scim(org, actor=owner.user)

    assert isinstance(check(issued.secret, org.uid), Refusal)
    assert AppInstallation.objects.filter(pk=installation.pk, uninstalled_at__isnull=True).exists()
    assert SecretToken.objects.filter(installation=installation, revoked_at__isnull=True).count() == 1
    assert org.memberships.count() == 1
    event = AuditEvent.objects.get(organization=org, action=audit_actions.SCIM_DISABLE)
    assert event.after == {"scim_enabled": False}

    installations.enable_scim(org, actor=owner.user)
    assert isinstance(check(issued.secret, org.uid), SecretToken)


def test_scim_url_is_public_base_url_plus_org_uid_without_trailing_slash(org, settings):
    settings.PUBLIC_BASE_URL = "https://orgdesk.example.com"
    url = installations.scim_url(org)
    assert url == f"https://orgdesk.example.com/scim/v2/organizations/{org.uid}"
    assert "_" not in url


# ---- views ------------------------------------------------------------------


def test_scim_tab_shows_enable_button_when_off(client, org, owner):
    client.force_login(owner.user)
    response = client.get(tab_url(org))
    assert response.status_code == 200
    body = response.content.decode()
    assert "SCIM is disabled" in body
    assert enable_url(org) in body
    assert "Enable SCIM" in body


def test_get_of_enable_only_asks_for_confirmation(client, org, owner):
    client.force_login(owner.user)
    response = client.get(enable_url(org))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Enable SCIM</h1>" in body
    assert 'value="Enable"' in body
    org.refresh_from_db()
    assert not org.scim_enabled


def test_post_of_enable_turns_scim_on(client, org, admin_member):
    client.force_login(admin_member.user)
    response = client.post(enable_url(org))

    assert response.status_code == 302 and response.url == tab_url(org)
    org.refresh_from_db()
    assert org.scim_enabled
    page = client.get(tab_url(org)).content.decode()
    assert "SCIM is enabled" in page
    assert reverse("admin:marketplace-apps", args=[org.uid]) in page
    assert installations.scim_url(org) in page


def test_disable_needs_confirmation_too(client, org, owner):
    installations.enable_scim(org, actor=owner.user)
    client.force_login(owner.user)

    confirm = client.get(disable_url(org))
    assert confirm.status_code == 200 and "<h1>Disable SCIM</h1>" in confirm.content.decode()
    org.refresh_from_db()
    assert org.scim_enabled

    client.post(disable_url(org))
    org.refresh_from_db()
    assert not org.scim_enabled


def test_tab_on_plan_without_scim_says_so_and_offers_no_toggle(client, db):
    org = builders.make_org("Small", plan=Plan.FREE)
    client.force_login(builders.owner_of(org).user)

    body = client.get(tab_url(org)).content.decode()
    assert "not included in the Free plan" in body
    assert enable_url(org) not in body

    client.post(enable_url(org))
    org.refresh_from_db()
    assert not org.scim_enabled


SCIM_URL_NAMES = ["org-settings-scim", "org-settings-scim-enable", "org-settings-scim-disable"]


@pytest.mark.parametrize("url_name", SCIM_URL_NAMES)
def test_member_who_manages_another_org_gets_404_and_nothing_changes(client, org, other_org, url_name):
    # A Member here who is Admin elsewhere can open the admin, so the org check itself is what refuses.
    member = builders.make_member(org, "both@example.com")
    builders.make_member(other_org, "both@example.com", role="admin")
    member.user.refresh_from_db()  # the second invitation re-set the password (session hash)
    client.force_login(member.user)
    url = reverse(f"admin:{url_name}", args=[org.uid])

    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    org.refresh_from_db()
    assert not org.scim_enabled


@pytest.mark.parametrize("url_name", SCIM_URL_NAMES)
def test_plain_member_is_sent_to_login_and_nothing_changes(client, org, plain_member, url_name):
    client.force_login(plain_member.user)
    url = reverse(f"admin:{url_name}", args=[org.uid])

    response = client.post(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    org.refresh_from_db()
    assert not org.scim_enabled


def test_other_orgs_admin_gets_404_and_nothing_changes(client, org, other_org):
    client.force_login(builders.owner_of(other_org).user)

    assert client.get(tab_url(org)).status_code == 404
    assert client.post(enable_url(org)).status_code == 404
    org.refresh_from_db()
    assert not org.scim_enabled


def test_scim_tab_query_count_does_not_grow_with_installations(client, org, owner):
    installations.enable_scim(org, actor=owner.user)
    apps = list(MarketplaceApp.objects.all())
    installations.install_app(org, apps[0], actor=owner.user)
    client.force_login(owner.user)
    client.get(tab_url(org))  # warm caches (content types, sessions)

    def queries_for_tab() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(tab_url(org)).status_code == 200
        return len(ctx.captured_queries)

    with_one = queries_for_tab()
    for app in apps[1:]:
        installations.install_app(org, app, actor=owner.user)
    assert queries_for_tab() == with_one
    assert client.get(tab_url(org)).content.decode().count("Manage</a>") == len(apps)


def test_disabled_scim_keeps_apps_mappings_and_activity_visible_read_only(client, org, owner):
    """Disable SCIM: its history stays on the tab, greyed, with no write button."""
    from mappings.models import GroupMapping
    from scim.models import MarketplaceApp, ProvisioningEvent, ScimGroup

    installations.enable_scim(org, actor=owner.user)
    okta = MarketplaceApp.objects.get(slug="okta-generic-scim")
    installation, _ = installations.install_app(org, okta, actor=owner.user)
    group = ScimGroup.objects.create(organization=org, display_name="Engineering")
    mapping = GroupMapping.objects.create(organization=org, group=group, org_role="member")
    ProvisioningEvent.objects.create(
        organization=org, installation=installation, method="GET", path="/Users", operation="List users",
        status=401, outcome="failure", detail="SCIM is disabled",
    )
    installations.disable_scim(org, actor=owner.user)
    client.force_login(owner.user)
    page = client.get(tab_url(org)).content.decode()
    assert 'id="scim-history-note"' in page and 'class="od-readonly" id="scim-history"' in page
    assert f'data-installation="{installation.pk}"' in page  # the app
    assert 'data-group="Engineering"' in page and 'id="mappings-read-only"' in page  # the mapping
    assert 'id="provisioning-activity-table"' in page and "SCIM is disabled" in page  # the 401s
    # no write button: no mapping form, Edit, Remove, Reinstall, nor the invitations setting
    assert 'id="group-mapping-form"' not in page
    assert reverse("admin:mapping-delete", args=[org.uid, mapping.pk]) not in page
    assert "edit_mapping=" not in page and ">Reinstall<" not in page and ">Manage<" not in page
    assert 'id="provisioned-invitations"' not in page
    assert 'id="scim-enable"' in page  # the one action: enable it again


def test_disabled_scim_without_history_shows_no_empty_sections(client, org, owner):
    client.force_login(owner.user)
    page = client.get(tab_url(org)).content.decode()
    assert 'id="scim-installations"' not in page and 'id="provisioning-activity"' not in page
