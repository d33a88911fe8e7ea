import pytest

from tests.hardening.conftest import FAST_HASHERS, scim  # noqa: F401  (one SCIM client fixture for every suite)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
