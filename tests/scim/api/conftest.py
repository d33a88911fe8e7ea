import pytest
from django.test import Client

from tests import factories

from .helpers import ScimClient, enable_scim


@pytest.fixture
def scim_setup(org):
    installation, secret = enable_scim(org)
    return installation, secret


@pytest.fixture
def scim(org, scim_setup) -> ScimClient:
    return ScimClient(org, scim_setup[1], Client())


@pytest.fixture
def other_scim(other_org) -> ScimClient:
    _, secret = enable_scim(other_org, "entra-id-scim")
    return ScimClient(other_org, secret, Client())


@pytest.fixture
def member(org):
    return factories.make_member(org, "bob@acme.example")
