import pytest

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 costs ~0.7 s per user built by the builders; these suites build many
    and test no hashing (tests/security/test_deploy.py checks the configured one)."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def scim(org):
    """A SCIM client of `org`, with SCIM enabled and an Okta app installed."""
    from django.test import Client

    from tests.builders import enable_scim
    from tests.scim.api.helpers import ScimClient

    _, secret = enable_scim(org)
    return ScimClient(org, secret, Client())

