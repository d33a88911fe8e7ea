"""Marketplace: installing an app issues the SCIM URL and a Secret Token shown once;
regenerating and uninstalling kill old tokens at once. Services and admin pages."""
from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from organizations import audit_actions
from organizations.models import AuditEvent, Plan
from scim import installations
from scim.models import AppInstallation, MarketplaceApp, SecretToken
from scim.tokens import Refusal, check, issue_token
from tests import builders

pytestmark = pytest.mark.django_db
OKTA = "okta-generic-scim"


@pytest.fixture
def okta(db) -> MarketplaceApp:
    return MarketplaceApp.objects.get(slug=OKTA)


@pytest.fixture
def scim_org(org, owner):
    installations.enable_scim(org, actor=owner.user)
    return org


def url(name: str, org, *args) -> str:
    return reverse(f"admin:{name}", args=[org.uid, *args])


# ---- services ---------------------------------------------------------------


def test_catalog_is_seeded_with_three_scim_apps(db):
    slugs = list(MarketplaceApp.objects.filter(listed=True).values_list("slug", flat=True))
    assert slugs == ["okta-generic-scim", "entra-id-scim", "onelogin-scim"]


def test_install_issues_a_working_token_and_audits_without_the_secret(scim_org, owner, okta):
    installation, issued = installations.install_app(scim_org, okta, actor=owner.user)

    assert installation.installed_by == owner.user and installation.is_live
    assert check(issued.secret, scim_org.uid).installation == installation
    event = AuditEvent.objects.get(action=audit_actions.MARKETPLACE_INSTALL)
    assert event.after == {"app": OKTA, "token_id": issued.token.pk, "token_prefix": issued.token.prefix}
    assert_no_secret_in_audit(issued.secret)


def assert_no_secret_in_audit(secret: str) -> None:
    urlsafe_part = secret.split("_", 2)[2]
    for event in AuditEvent.objects.all():
        dumped = json.dumps([event.before, event.after, event.target_label, event.actor_label])
        assert secret not in dumped and urlsafe_part not in dumped


def test_install_requires_scim_enabled(org, owner, okta):
    with pytest.raises(installations.ScimNotAvailable, match="Enable SCIM"):
        installations.install_app(org, okta, actor=owner.user)
    assert not AppInstallation.objects.exists()


def test_install_refused_on_plan_without_scim(db, okta):
    org = builders.make_org("Small", plan=Plan.TEAM)
    org.scim_enabled = True  # e.g. downgraded after enabling
    org.save()
    with pytest.raises(installations.ScimNotAvailable, match="does not include"):
        installations.install_app(org, okta, actor=builders.owner_of(org).user)


def test_second_live_install_of_same_app_is_refused_with_a_clear_error(scim_org, owner, okta):
    first, issued = installations.install_app(scim_org, okta, actor=owner.user)

    with pytest.raises(installations.AlreadyInstalled, match="already installed") as exc:
        installations.install_app(scim_org, okta, actor=owner.user)

    assert exc.value.installation == first
    assert isinstance(check(issued.secret, scim_org.uid), SecretToken)  # the IdP in use keeps working
    assert SecretToken.objects.count() == 1


def test_member_cannot_install(scim_org, plain_member, okta):
    with pytest.raises(installations.ScimPermissionDenied):
        installations.install_app(scim_org, okta, actor=plain_member.user)
    assert not AppInstallation.objects.exists()


def test_regenerate_revokes_every_live_token_and_issues_a_new_one(scim_org, owner, okta):
    installation, first = installations.install_app(scim_org, okta, actor=owner.user)
    # A stray second live token (e.g. from an interrupted rotation) must die too.
    stray = issue_token(installation)

    new = installations.regenerate_token(installation, actor=owner.user)

    assert isinstance(check(first.secret, scim_org.uid), Refusal)
    assert isinstance(check(stray.secret, scim_org.uid), Refusal)
    assert isinstance(check(new.secret, scim_org.uid), SecretToken)
    event = AuditEvent.objects.get(action=audit_actions.MARKETPLACE_TOKEN_REGENERATE)
    assert sorted(event.before["token_prefixes"]) == sorted([first.token.prefix, stray.token.prefix])
    assert event.after["token_prefix"] == new.token.prefix
    assert_no_secret_in_audit(new.secret)


def test_uninstall_kills_tokens_and_allows_a_fresh_install(scim_org, admin_member, okta):
    installation, issued = installations.install_app(scim_org, okta, actor=admin_member.user)

    installations.uninstall_app(installation, actor=admin_member.user)

    installation.refresh_from_db()
    assert installation.uninstalled_at is not None
    assert isinstance(check(issued.secret, scim_org.uid), Refusal)
    assert not SecretToken.objects.filter(revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action=audit_actions.MARKETPLACE_UNINSTALL).count() == 1
    with pytest.raises(installations.ServiceError, match="uninstalled"):
        installations.regenerate_token(installation, actor=admin_member.user)
    again, _ = installations.install_app(scim_org, okta, actor=admin_member.user)
    assert again.pk != installation.pk


def test_other_orgs_owner_cannot_regenerate_or_uninstall(scim_org, owner, other_org, okta):
    installation, issued = installations.install_app(scim_org, okta, actor=owner.user)
    stranger = builders.owner_of(other_org).user

    with pytest.raises(installations.ScimPermissionDenied):
        installations.regenerate_token(installation, actor=stranger)
    with pytest.raises(installations.ScimPermissionDenied):
        installations.uninstall_app(installation, actor=stranger)
    assert isinstance(check(issued.secret, scim_org.uid), SecretToken)


# ---- views ------------------------------------------------------------------


def test_apps_page_lists_cards_and_filters_server_side(client, scim_org, owner):
    client.force_login(owner.user)
    all_apps = client.get(url("marketplace-apps", scim_org)).content.decode()
    for name in ("Okta Generic SCIM", "Microsoft Entra ID SCIM", "OneLogin SCIM"):
        assert name in all_apps
    assert 'id="app-search"' in all_apps

    okta_only = client.get(url("marketplace-apps", scim_org), {"q": "okta"}).content.decode()
    assert "Okta Generic SCIM" in okta_only and "OneLogin SCIM" not in okta_only

    nothing = client.get(url("marketplace-apps", scim_org), {"q": "salesforce"}).content.decode()
    assert "No app matches" in nothing


def test_app_page_offers_install_only_when_scim_is_on(client, org, owner):
    client.force_login(owner.user)
    install_url = url("marketplace-install", org, OKTA)

    off = client.get(url("marketplace-app", org, OKTA)).content.decode()
    assert "SCIM is not enabled" in off and install_url not in off
    assert url("org-settings-scim", org) in off

    installations.enable_scim(org, actor=owner.user)
    on = client.get(url("marketplace-app", org, OKTA)).content.decode()
    assert "Install App" in on and install_url in on


def test_authorization_step_lists_permissions_and_get_installs_nothing(client, scim_org, owner, okta):
    client.force_login(owner.user)
    response = client.get(url("marketplace-install", scim_org, OKTA))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Authorize &amp; Install" in body
    for permission in okta.permissions:
        assert escape(permission) in body
    assert not AppInstallation.objects.exists()


def test_authorize_and_install_renders_url_and_token_once(client, scim_org, owner, settings):
    settings.PUBLIC_BASE_URL = "https://orgdesk.example.com"
    client.force_login(owner.user)

    posted = client.post(url("marketplace-install", scim_org, OKTA))

    installation = AppInstallation.objects.get()
    token_page = url("marketplace-installation-token", scim_org, installation.pk)
    assert posted.status_code == 302 and posted["Location"] == token_page  # Post/Redirect/Get
    response = client.get(token_page)  # shows the secret once, from the session
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    scim_url = f"https://orgdesk.example.com/scim/v2/organizations/{scim_org.uid}"
    assert f'id="scim-url" value="{scim_url}"' in body
    secret = body.split('id="secret-token" value="', 1)[1].split('"', 1)[0]
    assert "shown only this once" in body
    assert check(secret, scim_org.uid).installation == installation
    reloaded = client.get(token_page).content.decode()  # a reload, or Back: no secret, and it says so
    assert secret not in reloaded and 'id="secret-token"' not in reloaded
    assert "no longer shown" in reloaded

    detail = client.get(url("marketplace-installation", scim_org, installation.pk)).content.decode()
    assert secret not in detail and secret.split("_", 2)[2] not in detail
    assert installation.tokens.get().prefix in detail
    app_page = client.get(url("marketplace-app", scim_org, OKTA)).content.decode()
    assert url("marketplace-installation", scim_org, installation.pk) in app_page


def test_install_post_refused_when_scim_off(client, org, owner):
    client.force_login(owner.user)
    response = client.post(url("marketplace-install", org, OKTA))
    assert response.status_code == 400
    assert "Enable SCIM" in response.content.decode()
    assert not AppInstallation.objects.exists()


def test_reloading_the_token_page_says_already_installed_once_and_issues_nothing(client, scim_org, owner, okta):
    """A reload re-sends the install POST: it is redirected (PRG) to the
    installation, where the message is shown once and consumed."""
    client.force_login(owner.user)
    install = url("marketplace-install", scim_org, OKTA)
    assert 'id="secret-token"' in client.post(install, follow=True).content.decode()
    installation = AppInstallation.objects.get()
    for _ in range(2):  # reload, and reload again
        response = client.post(install, follow=True)
        assert response.redirect_chain == [(url("marketplace-installation", scim_org, installation.pk), 302)]
        body = response.content.decode()
        assert body.count("already installed") == 1 and 'id="secret-token"' not in body
    assert "already installed" not in client.get(response.request["PATH_INFO"]).content.decode()  # consumed
    assert SecretToken.objects.count() == 1


def test_regenerate_confirms_then_shows_new_token_once(client, scim_org, owner, okta):
    installation, first = installations.install_app(scim_org, okta, actor=owner.user)
    client.force_login(owner.user)
    regenerate = url("marketplace-installation-regenerate", scim_org, installation.pk)

    confirm = client.get(regenerate)
    assert confirm.status_code == 200 and "Regenerate token" in confirm.content.decode()
    assert isinstance(check(first.secret, scim_org.uid), SecretToken)

    assert f'name="token" value="{first.token.prefix}"' in confirm.content.decode()
    posted = client.post(regenerate, {"token": first.token.prefix})
    token_page = url("marketplace-installation-token", scim_org, installation.pk)
    assert posted.status_code == 302 and posted["Location"] == token_page
    body = client.get(token_page).content.decode()
    assert "New Secret Token" in body
    new_secret = body.split('id="secret-token" value="', 1)[1].split('"', 1)[0]
    assert new_secret != first.secret
    assert isinstance(check(first.secret, scim_org.uid), Refusal)
    assert isinstance(check(new_secret, scim_org.uid), SecretToken)
    assert new_secret not in client.get(token_page).content.decode()  # shown once

    # The same form sent again (a double click): the new token survives.
    again = client.post(regenerate, {"token": first.token.prefix}, follow=True)
    assert "already regenerated" in again.content.decode() and 'id="secret-token"' not in again.content.decode()
    assert isinstance(check(new_secret, scim_org.uid), SecretToken)
    assert SecretToken.objects.filter(installation=installation).count() == 2


def test_uninstall_confirms_then_kills_tokens(client, scim_org, owner, okta):
    installation, issued = installations.install_app(scim_org, okta, actor=owner.user)
    client.force_login(owner.user)
    uninstall = url("marketplace-installation-uninstall", scim_org, installation.pk)

    assert client.get(uninstall).status_code == 200
    installation.refresh_from_db()
    assert installation.is_live

    response = client.post(uninstall)
    assert response.status_code == 302
    installation.refresh_from_db()
    assert not installation.is_live
    assert isinstance(check(issued.secret, scim_org.uid), Refusal)
    assert "Uninstalled" in client.get(response.url).content.decode()


def test_installation_of_another_org_is_404_and_untouched(client, scim_org, owner, other_org, okta):
    installation, issued = installations.install_app(scim_org, okta, actor=owner.user)
    other_owner = builders.owner_of(other_org).user
    client.force_login(other_owner)

    for name in ("marketplace-installation", "marketplace-installation-regenerate", "marketplace-installation-uninstall"):
        # Their own org's URL with our installation id, and our org's URL.
        assert client.get(url(name, other_org, installation.pk)).status_code == 404
        assert client.post(url(name, other_org, installation.pk)).status_code == 404
        assert client.post(url(name, scim_org, installation.pk)).status_code == 404
    installation.refresh_from_db()
    assert installation.is_live and isinstance(check(issued.secret, scim_org.uid), SecretToken)


@pytest.mark.parametrize("name,args", [("marketplace-apps", []), ("marketplace-app", [OKTA]), ("marketplace-install", [OKTA])])
def test_marketplace_is_404_for_another_orgs_admin(client, scim_org, other_org, name, args):
    client.force_login(builders.owner_of(other_org).user)
    assert client.get(url(name, scim_org, *args)).status_code == 404
    assert client.post(url("marketplace-install", scim_org, OKTA)).status_code == 404
    assert not AppInstallation.objects.exists()


def test_unknown_or_unlisted_app_is_404(client, scim_org, owner, okta):
    client.force_login(owner.user)
    assert client.get(url("marketplace-app", scim_org, "nope")).status_code == 404
    okta.listed = False
    okta.save()
    assert client.post(url("marketplace-install", scim_org, OKTA)).status_code == 404


def test_admin_index_links_to_marketplace(client, org, owner):
    client.force_login(owner.user)
    assert url("marketplace-apps", org) in client.get(reverse("admin:index")).content.decode()


def test_catalog_admin_is_for_superusers_only(client, org, owner, django_user_model):
    changelist = reverse("admin:scim_marketplaceapp_changelist")
    client.force_login(owner.user)
    assert client.get(changelist).status_code == 403
    client.force_login(builders.make_operator("root@example.com"))
    assert "Okta Generic SCIM" in client.get(changelist).content.decode()


# ---- uninstalled installations stay, and come back ------------------------------


def test_reinstall_brings_the_same_installation_back_with_a_new_token(scim_org, owner, okta):
    installation, first = installations.install_app(scim_org, okta, actor=owner.user)
    installations.uninstall_app(installation, actor=owner.user)

    issued = installations.reinstall_app(installation, actor=owner.user)

    installation.refresh_from_db()
    assert installation.is_live and issued.token.installation_id == installation.pk
    assert check(issued.secret, scim_org.uid).installation == installation
    assert isinstance(check(first.secret, scim_org.uid), Refusal)  # old tokens stay revoked
    event = AuditEvent.objects.get(action=audit_actions.MARKETPLACE_REINSTALL)
    assert event.before["live"] is False and event.after == {
        "live": True, "token_id": issued.token.pk, "token_prefix": issued.token.prefix}
    assert_no_secret_in_audit(issued.secret)


def test_reinstall_is_refused_while_another_installation_of_the_app_is_live(scim_org, owner, okta):
    old, _ = installations.install_app(scim_org, okta, actor=owner.user)
    installations.uninstall_app(old, actor=owner.user)
    fresh, _ = installations.install_app(scim_org, okta, actor=owner.user)
    with pytest.raises(installations.AlreadyInstalled) as exc:
        installations.reinstall_app(old, actor=owner.user)
    assert exc.value.installation == fresh
    old.refresh_from_db()
    assert not old.is_live and SecretToken.objects.filter(installation=old, revoked_at__isnull=True).count() == 0


def test_reinstall_needs_scim_on_and_a_manager(scim_org, owner, plain_member, okta):
    installation, _ = installations.install_app(scim_org, okta, actor=owner.user)
    installations.uninstall_app(installation, actor=owner.user)
    with pytest.raises(installations.ScimPermissionDenied):
        installations.reinstall_app(installation, actor=plain_member.user)
    installations.disable_scim(scim_org, actor=owner.user)
    with pytest.raises(installations.ScimNotAvailable):
        installations.reinstall_app(installation, actor=owner.user)
    installation.refresh_from_db()
    assert not installation.is_live and not SecretToken.objects.filter(revoked_at__isnull=True).exists()


def test_uninstalled_app_stays_listed_greyed_with_history_and_is_reinstalled(client, scim_org, owner, okta):
    from scim.api.constants import DETAIL_TOKEN_REVOKED

    installation, first = installations.install_app(scim_org, okta, actor=owner.user)
    scim = client_for(scim_org, first.secret)
    assert scim.get("/Users").status_code == 200  # the token is used: last_used_at
    client.force_login(owner.user)
    assert client.post(url("marketplace-installation-uninstall", scim_org, installation.pk)).status_code == 302

    tab = client.get(url("org-settings-scim", scim_org))
    rows = [i for i in tab.context["installations"] if i.pk == installation.pk]
    assert rows and not rows[0].is_live
    body = tab.content.decode()
    assert "Uninstalled" in body and "Reinstall" in body and "No app is installed now" in body
    assert "No app is installed yet" not in body
    page = client.get(url("marketplace-installation", scim_org, installation.pk)).content.decode()
    assert 'id="token-last-used">never' not in page  # it was used before the uninstall
    assert "Reinstall app" in page and "?app=%d#provisioning-activity" % installation.pk in page

    assert scim.get("/Users").json()["detail"] == DETAIL_TOKEN_REVOKED  # history: the refused call...
    history = client.get(url("org-settings-scim", scim_org), {"app": installation.pk}).context["provisioning_lines"]
    assert [(line.status, line.detail) for line in history][:1] == [(401, DETAIL_TOKEN_REVOKED)]

    reinstall = url("marketplace-installation-reinstall", scim_org, installation.pk)
    assert "Reinstall" in client.get(reinstall).content.decode()
    posted = client.post(reinstall)
    assert posted.status_code == 302
    body = client.get(posted["Location"]).content.decode()
    new_secret = body.split('id="secret-token" value="', 1)[1].split('"', 1)[0]
    assert client_for(scim_org, new_secret).get("/Users").status_code == 200
    assert scim.get("/Users").status_code == 401
    assert AppInstallation.objects.get().pk == installation.pk  # the same one, its history with it
    again = client.post(reinstall, follow=True)  # reloaded: nothing issued again
    assert 'id="secret-token"' not in again.content.decode() and SecretToken.objects.count() == 2


def test_the_app_page_offers_to_reinstall_an_uninstalled_installation(client, scim_org, owner, okta):
    installation, _ = installations.install_app(scim_org, okta, actor=owner.user)
    installations.uninstall_app(installation, actor=owner.user)
    client.force_login(owner.user)
    page = client.get(url("marketplace-app", scim_org, OKTA)).content.decode()
    assert "was uninstalled" in page and url("marketplace-installation-reinstall", scim_org, installation.pk) in page
    assert url("marketplace-install", scim_org, OKTA) in page  # or anew


def client_for(org, secret):
    from django.test import Client

    from tests.scim.api.helpers import ScimClient

    return ScimClient(org, secret, Client())


def test_re_enabling_scim_with_an_app_installed_does_not_send_to_the_marketplace(client, scim_org, owner, okta):
    installations.install_app(scim_org, okta, actor=owner.user)
    client.force_login(owner.user)
    client.post(url("org-settings-scim-disable", scim_org))
    page = client.post(url("org-settings-scim-enable", scim_org), follow=True).content.decode()
    assert "SCIM is enabled. Okta Generic SCIM can provision again with its current token." in page
    assert "Install an app from the Marketplace" not in page


def test_a_search_over_the_limit_shows_the_error_and_lists_no_app(client, scim_org, owner):
    client.force_login(owner.user)
    response = client.get(url("marketplace-apps", scim_org), {"q": "o" * 101})
    assert response.status_code == 200 and response.context["cards"] == []
    body = response.content.decode()
    assert "at most 100 characters" in body and "Okta Generic SCIM" not in body
    fine = client.get(url("marketplace-apps", scim_org), {"q": "okta"})
    assert [app.slug for app, _ in fine.context["cards"]] == [OKTA]


def test_the_token_page_of_another_orgs_installation_is_404_and_shows_no_secret(client, scim_org, other_org, owner, okta):
    client.force_login(owner.user)
    client.post(url("marketplace-install", scim_org, OKTA))
    installation = AppInstallation.objects.get()
    assert client.get(url("marketplace-installation-token", other_org, installation.pk)).status_code == 404
    assert client.post(url("marketplace-installation-token", scim_org, installation.pk)).status_code == 405
    assert 'id="secret-token"' in client.get(url("marketplace-installation-token", scim_org, installation.pk)).content.decode()
