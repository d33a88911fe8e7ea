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


def pytest_terminal_summary(terminalreporter):
    """The figures the hardening issue asks for: hostile inputs tried, clients
    raced, faults injected (only for the suites that ran)."""
    import sys

    fuzz = sys.modules.get("tests.hardening.test_fuzz_scim")
    if fuzz and fuzz.TRIED["inputs"]:
        t = fuzz.TRIED
        terminalreporter.write_line(
            f"hardening: {t['inputs']} hostile SCIM inputs tried: {t['refused']} refused with 4xx SCIM errors, "
            f"{t['accepted']} accepted, {t['server_errors']} server errors"
        )
    race = sys.modules.get("tests.hardening.test_concurrency")
    if race and race.RACED["clients"]:
        terminalreporter.write_line(
            f"hardening: {race.RACED['clients']} concurrent clients raced "
            f"({race.RACED['requests']} SCIM requests + recomputes) on PostgreSQL"
        )
    crash = sys.modules.get("tests.hardening.test_worker_crash")
    if crash and crash.FAULTS["worker_kills"]:
        terminalreporter.write_line(
            f"hardening: {crash.FAULTS['worker_kills']} Celery pool process(es) SIGKILLed mid-recompute"
        )
