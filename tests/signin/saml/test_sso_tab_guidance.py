"""The Single Sign-On tab says what comes first and what is wrong: the
permanent sign-in name is confirmed before it is created, an expired or
soon-expiring IdP certificate is a warning at the top (and in the message of
the import that brought it), Enable is refused before its confirmation when the
certificate has expired, and empty steps say what comes first."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from organizations.signin.saml import services
from organizations.signin.saml.models import SsoSettings
from tests.saml_idp import TestIdP

pytestmark = pytest.mark.django_db


def tab(org):
    return reverse("admin:org-settings-sso", args=[org.uid])


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def test_the_signin_name_is_confirmed_before_it_is_created(owner_client, org):
    posted = owner_client.post(tab(org), {"form": "name", "name-signin_name": "acme-corp"})
    confirm_url = reverse("admin:org-settings-sso-name", args=[org.uid])
    assert posted.status_code == 302 and posted["Location"] == confirm_url
    assert not SsoSettings.objects.filter(organization=org).exists()  # nothing created yet
    page = owner_client.get(confirm_url).content.decode()
    assert "acme-corp" in page and "cannot change later" in page and "Create sign-in name" in page
    assert owner_client.get(confirm_url).status_code == 200  # a reload shows it again, creates nothing
    assert not SsoSettings.objects.filter(organization=org).exists()
    done = owner_client.post(confirm_url, {"signin_name": "acme-corp"})
    assert done.status_code == 302 and done["Location"] == tab(org)
    assert SsoSettings.objects.get(organization=org).signin_name == "acme-corp"
    assert owner_client.get(confirm_url)["Location"] == tab(org)  # nothing left to confirm


def test_signin_name_confirmation_is_for_the_owner_only(client, org, owner):
    from tests import builders

    admin = builders.make_member(org, "admin@acme.example", role="admin")
    client.force_login(admin.user)
    url = reverse("admin:org-settings-sso-name", args=[org.uid])
    assert client.post(url, {"signin_name": "evil"}).status_code == 403
    assert not SsoSettings.objects.filter(organization=org).exists()


def test_empty_steps_say_what_comes_first(owner_client, org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    body = owner_client.get(tab(org)).content.decode()
    assert 'id="sso-test-hint"' in body and "First set the identity provider" in body
    assert 'id="sso-enable-hint"' in body and "after the identity provider is set" in body
    assert 'id="sso-enable-button"' not in body and 'id="sso-test-button"' not in body


def test_an_expired_certificate_says_so_and_enable_is_refused_before_its_confirmation(owner_client, org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    expired = TestIdP(entity_id="http://old.example.test", days_valid=0)  # not valid after now
    # Metadata whose only certificate expired is refused, saying when.
    refused = owner_client.post(tab(org), {"form": "metadata", "metadata-metadata_xml": expired.metadata()})
    assert refused.status_code == 400 and "signing certificate expired on" in refused.content.decode()
    # By hand it is saved, and the message itself says it expired (not a green "saved").
    response = owner_client.post(tab(org), {
        "form": "idp", "idp-idp_sso_url": expired.sso_url, "idp-idp_entity_id": expired.entity_id,
        "idp-idp_x509_cert": expired.cert_base64,
    })
    assert response.status_code == 302
    said = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert len(said) == 1 and said[0][0] == "error"
    assert "saved, but" in said[0][1] and "expired" in said[0][1]
    body = owner_client.get(tab(org)).content.decode()
    flag = body.index('id="sso-cert-flag"')
    assert flag < body.index('id="sso-idp"')  # at the top of the tab
    assert "expired" in body[flag:flag + 400]
    assert 'id="sso-enable-button"' not in body and 'id="sso-enable-hint"' in body
    enable = reverse("admin:org-settings-sso-enable", args=[org.uid])
    page = owner_client.get(enable)
    text = page.content.decode()
    assert page.status_code == 200 and 'id="sso-enable-refused"' in text and "expired" in text
    assert 'id="confirm-action"' not in text and "Enable SSO" not in text.split('id="sso-enable-refused"')[1]
    assert owner_client.post(enable).status_code == 302
    assert not SsoSettings.objects.get(organization=org).enabled


def test_a_soon_expiring_certificate_is_a_warning_in_the_message_and_at_the_top(owner_client, org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    soon = TestIdP(entity_id="http://soon.example.test", days_valid=10)
    response = owner_client.post(tab(org), {
        "form": "idp", "idp-idp_sso_url": soon.sso_url, "idp-idp_entity_id": soon.entity_id,
        "idp-idp_x509_cert": soon.cert_base64,
    })
    said = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert said[0][0] == "warning" and "expires within 30 days" in said[0][1]
    body = owner_client.get(tab(org)).content.decode()
    assert body.index('id="sso-cert-flag"') < body.index('id="sso-idp"')
    assert 'id="sso-enable-button"' in body  # still valid: Enable is offered


def test_a_good_certificate_gets_the_plain_success_message(owner_client, org, owner):
    services.create_settings(org, actor=owner.user, signin_name="acme")
    good = TestIdP()
    response = owner_client.post(tab(org), {"form": "metadata", "metadata-metadata_xml": good.metadata()})
    said = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert said == [("success", "The IdP metadata was imported. Run Test SSO before enabling SSO.")]
