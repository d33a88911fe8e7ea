import pytest
from django.test import Client

from tests import builders
from tests.builders import enable_scim

from .helpers import ScimClient


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
    return builders.make_member(org, "bob@acme.example")
