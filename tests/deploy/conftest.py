from tests.hardening.conftest import scim  # noqa: F401  (one SCIM client fixture for every suite)
