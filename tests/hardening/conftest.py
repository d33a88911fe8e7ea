import pytest

@pytest.fixture
def scim(org):
    """A SCIM client of `org`, with SCIM enabled and an Okta app installed."""
    from django.test import Client

    from tests.builders import enable_scim
    from tests.scim.api.helpers import ScimClient

    _, secret = enable_scim(org)
    return ScimClient(org, secret, Client())

