"""Fixtures for SAML SSO tests: a test IdP with its own key, and an org whose
SSO trusts it."""
from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from organizations.signin.saml import config, services
from tests import builders
from tests.saml_idp import TestIdP

BOUNCE_FIELD = "orgdesk_bounced"


@pytest.fixture(scope="session")
def idp() -> TestIdP:
    return TestIdP()


@pytest.fixture(scope="session")
def other_idp() -> TestIdP:
    """Same entity ID and URL, another key: what a forger would sign with."""
    return TestIdP()


@pytest.fixture
def sso_org(db, idp):
    org = builders.make_org("Acme", owner_email="owner@acme.example")
    owner = builders.owner_of(org).user
    services.create_settings(org, actor=owner, signin_name="acme")
    services.import_metadata(org, idp.metadata(), actor=owner)
    services.enable_sso(org, actor=owner)
    return org


@pytest.fixture
def sp(sso_org):
    return config.sp_urls(sso_org)


def post_acs(client, org, saml_response: str, relay_state: str = ""):
    """POST to the ACS as a browser does, following the same-origin re-post the
    ACS answers when the IdP's cross-site POST carried no session cookie."""
    url = config.sp_urls(org).acs_url.removeprefix(django_settings.PUBLIC_BASE_URL)
    data = {"SAMLResponse": saml_response}
    if relay_state:
        data["RelayState"] = relay_state
    response = client.post(url, data)
    if response.status_code == 200 and b'id="saml-bounce"' in response.content:
        response = client.post(url, {**data, BOUNCE_FIELD: "1"})
    return response


def link(org, membership, name_id: str | None = None):
    """Link a member to the org's IdP as if they had proven the account theirs
    (organizations.signin.saml.linking): tests of what a linked person can do."""
    from organizations.signin.saml import linking

    return linking.link(org.sso, membership, name_id or membership.user.email, how="password", actor=membership.user)


def enable_sso_for(org, idp, signin_name: str):
    """SSO set up and enabled for another org, trusting `idp`."""
    owner = builders.owner_of(org).user
    services.create_settings(org, actor=owner, signin_name=signin_name)
    services.import_metadata(org, idp.metadata(), actor=owner)
    services.enable_sso(org, actor=owner)
    org.refresh_from_db()
    return org
