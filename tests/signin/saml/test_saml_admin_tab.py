"""Organization Settings > Single Sign-On: the Owner sets it up (sign-in name,
IdP metadata or values, Test SSO, Enable with confirmation, Strict mode); an
Admin reads it; a Member or another org's admin gets a 404."""
from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import AuditEvent
from organizations.signin.saml import config
from organizations.signin.saml.models import SsoSettings
from tests import builders
from tests.saml_idp import TestIdP, authn_request

from .conftest import post_acs

pytestmark = pytest.mark.django_db


def tab(org):
    return reverse("admin:org-settings-sso", args=[org.uid])


def create_name(client, org, name: str = "acme"):
    """The tab's name form, then its confirmation (the name is permanent)."""
    posted = client.post(tab(org), {"form": "name", "name-signin_name": name})
    assert posted.status_code == 302 and posted["Location"] == reverse("admin:org-settings-sso-name", args=[org.uid])
    return client.post(posted["Location"], {"signin_name": name})


def test_owner_sets_up_sso_from_the_tab(client, org, owner, idp):
    client.force_login(owner.user)
    page = client.get(tab(org))
    assert page.status_code == 200 and 'value="acme"' in page.content.decode()

    assert create_name(client, org).status_code == 302
    body = client.get(tab(org)).content.decode()
    sp = config.sp_urls(org)
    for value in (sp.entity_id, sp.acs_url, sp.metadata_url, sp.login_url):
        assert f'value="{value}"' in body
    assert "SSO is disabled" in body and 'id="sso-enable-button"' not in body

    response = client.post(tab(org), {"form": "metadata", "metadata-metadata_xml": idp.metadata()})
    assert response.status_code == 302
    body = client.get(tab(org)).content.decode()
    assert "CN=Test IdP" in body and 'id="sso-cert-flag"' not in body and 'id="sso-enable-button"' in body

    enable = reverse("admin:org-settings-sso-enable", args=[org.uid])
    confirm = client.get(enable)
    assert confirm.status_code == 200 and "Turn on single sign-on" in confirm.content.decode()
    assert not SsoSettings.objects.get(organization=org).enabled
    assert client.post(enable).status_code == 302
    assert client.post(reverse("admin:org-settings-sso-strict-on", args=[org.uid])).status_code == 302
    sso = SsoSettings.objects.get(organization=org)
    assert (sso.enabled, sso.strict, sso.idp_entity_id) == (True, True, idp.entity_id)


def test_metadata_upload_and_manual_values(client, org, owner):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(owner.user)
    create_name(client, org)
    soon = TestIdP(entity_id="http://soon.example.test", days_valid=10)
    upload = SimpleUploadedFile("idp.xml", soon.metadata().encode(), content_type="text/xml")
    assert client.post(tab(org), {"form": "metadata", "metadata-metadata_file": upload}).status_code == 302
    body = client.get(tab(org)).content.decode()
    assert 'id="sso-cert-flag"' in body and "expires within 30 days" in body

    manual = TestIdP(entity_id="http://manual.example.test")
    response = client.post(tab(org), {
        "form": "idp", "idp-idp_sso_url": "https://manual.example.test/sso",
        "idp-idp_entity_id": manual.entity_id, "idp-idp_x509_cert": manual.cert_base64,
    })
    assert response.status_code == 302
    sso = SsoSettings.objects.get(organization=org)
    assert (sso.idp_entity_id, sso.idp_sso_url) == (manual.entity_id, "https://manual.example.test/sso")


def test_bad_input_is_a_form_error_and_changes_nothing(client, org, owner):
    client.force_login(owner.user)
    create_name(client, org)
    bad = client.post(tab(org), {"form": "metadata", "metadata-metadata_xml": "<x>not metadata</x>"})
    assert bad.status_code == 400 and "The IdP metadata must name the entity ID" in bad.content.decode()
    bad = client.post(tab(org), {"form": "idp", "idp-idp_sso_url": "https://x.example/sso",
                                 "idp-idp_entity_id": "x", "idp-idp_x509_cert": "not a certificate"})
    assert bad.status_code == 400 and "certificate" in bad.content.decode()
    assert client.post(tab(org), {"form": "name", "name-signin_name": "Bad Name!"}).status_code == 400
    assert SsoSettings.objects.get(organization=org).idp_entity_id == ""


def test_admin_reads_but_cannot_change(client, sso_org):
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin")
    client.force_login(admin.user)
    body = client.get(tab(sso_org)).content.decode()
    assert "Only the Owner of Acme changes single sign-on" in body
    assert 'id="sso-metadata-form"' not in body and 'id="sso-disable"' not in body
    assert config.sp_urls(sso_org).acs_url in body
    assert client.post(tab(sso_org), {"form": "options", "options-jit_provisioning": "on"}).status_code == 403
    disable = reverse("admin:org-settings-sso-disable", args=[sso_org.uid])
    assert client.get(disable).status_code == 403 and client.post(disable).status_code == 403
    assert client.get(reverse("saml:login", args=[sso_org.uid]) + "?test=1").status_code == 404
    sso = SsoSettings.objects.get(organization=sso_org)
    assert sso.enabled and not sso.jit_provisioning


def test_members_and_other_orgs_admins_get_404(client, sso_org, other_org):
    member = builders.make_member(sso_org, "member@acme.example")
    stranger = builders.owner_of(other_org)
    for user in (member.user, stranger.user):
        client.force_login(user)
        assert client.get(tab(sso_org)).status_code in (302, 404)
        assert client.post(reverse("admin:org-settings-sso-disable", args=[sso_org.uid])).status_code in (302, 404)
    assert SsoSettings.objects.get(organization=sso_org).enabled


def test_test_sso_reports_without_signing_in_or_enabling(client, org, owner, idp):
    from organizations.signin.saml import services

    services.create_settings(org, actor=owner.user, signin_name="acme")
    services.import_metadata(org, idp.metadata(), actor=owner.user)
    builders.make_member(org, "admin@acme.example", role="admin")
    client.force_login(owner.user)
    to_idp = client.get(reverse("saml:login", args=[org.uid]) + "?test=1")
    request_id = authn_request(to_idp["Location"])[0]
    sp = config.sp_urls(org)

    result = post_acs(client, org, idp.response(sp, "admin@acme.example", in_response_to=request_id))

    body = result.content.decode()
    assert result.status_code == 200 and 'data-accepted="yes"' in body and "would sign in as Admin" in body
    assert 'id="sso-test-nameid">admin@acme.example<' in body
    assert client.session["_auth_user_id"] == str(owner.user.pk)  # still the Owner
    sso = SsoSettings.objects.get(organization=org)
    assert not sso.enabled and sso.last_test_ok is True
    assert AuditEvent.objects.filter(action="sso.test").exists() and not AuditEvent.objects.filter(action="sso.signin").exists()

    request_id = authn_request(client.get(reverse("saml:login", args=[org.uid]) + "?test=1")["Location"])[0]
    refused = post_acs(client, org, idp.response(sp, "stranger@else.example", in_response_to=request_id))
    assert 'data-accepted="no"' in refused.content.decode() and "not a member of Acme" in refused.content.decode()


def test_okta_marketplace_page_says_where_the_sso_values_go(client, sso_org):
    client.force_login(builders.owner_of(sso_org).user)
    body = client.get(reverse("admin:marketplace-app", args=[sso_org.uid, "okta-generic-scim"])).content.decode()
    sp = config.sp_urls(sso_org)
    assert "Single sign-on URL" in body and f'id="okta-acs-url">{sp.acs_url}<' in body
    assert f'id="okta-entity-id">{sp.entity_id}<' in body and "Audience URI (SP Entity ID)" in body
    other = client.get(reverse("admin:marketplace-app", args=[sso_org.uid, "entra-id-scim"])).content.decode()
    assert 'id="okta-saml-values"' not in other


def test_owner_sets_the_session_timeout_and_the_dashboard_switch(client, sso_org):
    client.force_login(builders.owner_of(sso_org).user)
    bad = client.post(tab(sso_org), {"form": "session", "session-session_timeout_minutes": "2"})
    assert bad.status_code == 400 and SsoSettings.objects.get(organization=sso_org).session_timeout_minutes == 720
    done = client.post(tab(sso_org), {"form": "session", "session-session_timeout_minutes": "90"})
    assert done.status_code == 302
    sso = SsoSettings.objects.get(organization=sso_org)
    assert (sso.session_timeout_minutes, sso.allow_idp_initiated) == (90, False)  # unchecked box: off
    page = client.get(tab(sso_org)).content.decode()
    assert "lasts 90 minutes" in page and "must start from Orgdesk" in page
    admin = builders.make_member(sso_org, "admin@acme.example", role="admin")
    client.force_login(admin.user)
    assert client.post(tab(sso_org), {"form": "session", "session-session_timeout_minutes": "60",
                                      "session-allow_idp_initiated": "on"}).status_code == 403
