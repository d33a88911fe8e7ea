"""Admin sign-in is throttled after repeated failures, per account and per address,
with a form error (never a crash), and recovers once the lockout has passed."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from organizations import throttle
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture
def limits(settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 6
    settings.ADMIN_LOGIN_LOCKOUT_SECONDS = 600
    return settings


def attempt(client: Client, email: str, password: str, address: str = "127.0.3.1"):
    return client.post(LOGIN, {"username": email, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def form_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def test_account_is_refused_after_repeated_failures_even_with_the_right_password(limits, owner):
    client = Client()
    email = owner.user.email
    for _ in range(3):
        response = attempt(client, email, "wrong-password")
        assert response.status_code == 200
        assert "Too many failed" not in " ".join(form_errors(response))
    response = attempt(client, email, factories.PASSWORD)
    assert response.status_code == 200, "the right password must not get in while throttled"
    assert any("Too many failed sign-in attempts" in e for e in form_errors(response))
    assert "_auth_user_id" not in client.session


def test_throttle_is_per_account_case_insensitively(limits, owner, admin_member):
    client = Client()
    for variant in (owner.user.email.upper(), owner.user.email, f" {owner.user.email.title()} "):
        attempt(client, variant, "nope")
    assert any("Too many" in e for e in form_errors(attempt(client, owner.user.email, factories.PASSWORD)))
    # another account from the same address still signs in (3 failures < 6 per address)
    response = attempt(client, admin_member.user.email, factories.PASSWORD)
    assert response.status_code == 302


def test_address_is_refused_after_failures_across_accounts(limits, owner):
    client = Client()
    for n in range(6):
        attempt(client, f"nobody{n}@example.com", "nope", address="127.0.9.9")
    response = attempt(client, owner.user.email, factories.PASSWORD, address="127.0.9.9")
    assert any("Too many" in e for e in form_errors(response))
    # the same account from another address is fine
    assert attempt(Client(), owner.user.email, factories.PASSWORD, address="127.0.1.1").status_code == 302


def test_success_resets_the_account_counter(limits, owner):
    client = Client()
    for _ in range(2):
        attempt(client, owner.user.email, "nope")
    assert attempt(client, owner.user.email, factories.PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        attempt(client, owner.user.email, "nope")
    assert attempt(client, owner.user.email, factories.PASSWORD).status_code == 302


def test_lockout_ends_after_its_window(limits, owner, monkeypatch):
    client = Client()
    for _ in range(3):
        attempt(client, owner.user.email, "nope")
    assert throttle.seconds_locked(None, owner.user.email) > 0
    real_time = throttle.time.time
    monkeypatch.setattr(throttle.time, "time", lambda: real_time() + 601)
    assert throttle.seconds_locked(None, owner.user.email) == 0
    assert attempt(client, owner.user.email, factories.PASSWORD).status_code == 302


def test_a_refused_right_password_is_not_counted_as_a_failed_password(limits, plain_member):
    """A deactivated member with the right password is told they cannot sign in;
    that is not a guess and does not lock the account."""
    from scim.provisioning import set_membership_active

    set_membership_active(plain_member, False, actor=None)
    client = Client()
    for _ in range(5):
        response = attempt(client, plain_member.user.email, factories.PASSWORD)
        assert "cannot sign in" in " ".join(form_errors(response))
    assert throttle.seconds_locked(None, plain_member.user.email) == 0


def test_cache_outage_fails_open(limits, owner, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                    "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}
    }
    response = attempt(Client(), owner.user.email, factories.PASSWORD)
    assert response.status_code == 302


def test_admin_index_after_sign_in(limits, owner):
    client = Client()
    attempt(client, owner.user.email, factories.PASSWORD)
    assert client.get(reverse("admin:index")).status_code == 200
