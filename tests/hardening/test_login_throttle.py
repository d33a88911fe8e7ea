"""Admin sign-in throttling that cannot lock anyone out: a guessing (account,
address) pair or address is paused, an account guessed from many addresses only
gets a growing delay that a browser known to the account skips; the holder is
e-mailed once per window; every step is audited; a cache outage fails open."""
from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from organizations.signin import throttle
from organizations.models import AuditEvent
from tests import builders

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
GUESSER = "198.51.100.66"
OWNER_ADDRESS = "203.0.113.10"


@pytest.fixture
def limits(settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 6
    settings.ADMIN_LOGIN_LOCKOUT_SECONDS = 600
    settings.ADMIN_LOGIN_MAX_DELAY_SECONDS = 8
    return settings


@pytest.fixture
def clock(monkeypatch):
    """The clock, moved by hand (no waiting in tests): time.time itself, so the
    cache's expiry moves with the throttle's windows."""

    class Clock:
        def __init__(self) -> None:
            self.offset = 0.0
            self.real = throttle.time.time

        def advance(self, seconds: float) -> None:
            self.offset += seconds

    clock = Clock()
    monkeypatch.setattr(throttle.time, "time", lambda: clock.real() + clock.offset)
    return clock


def attempt(client: Client, email: str, password: str, address: str = GUESSER):
    return client.post(LOGIN, {"username": email, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def form_errors(response) -> str:
    return " ".join(response.context["form"].non_field_errors()) if response.context else ""


def signed_in(response) -> bool:
    return response.status_code == 302


def known_browser(email: str) -> Client:
    """A browser that signed in to the account before (then signed out)."""
    browser = Client()
    assert signed_in(attempt(browser, email, builders.PASSWORD, address=OWNER_ADDRESS))
    assert browser.cookies.get(throttle.TRUSTED_COOKIE)
    browser.post(reverse("signout"))
    return browser


def actions(user) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=str(user.pk), target_type="organizations.user")
                .order_by("id").values_list("action", flat=True))


def test_guessing_from_one_address_does_not_stop_the_right_password_from_another(limits, owner, clock):
    email = owner.user.email
    browser = known_browser(email)
    for _ in range(3):
        assert "Too many" not in form_errors(attempt(Client(), email, "wrong-password"))
    # the owner's usual browser, elsewhere: straight in
    assert signed_in(attempt(browser, email, builders.PASSWORD, address=OWNER_ADDRESS))
    # any other browser elsewhere: at most a short wait, then in
    clock.advance(2)
    assert signed_in(attempt(Client(), email, builders.PASSWORD, address="203.0.113.99"))


def test_the_guessing_pair_is_paused_even_with_the_right_password(limits, owner, clock):
    email = owner.user.email
    for _ in range(3):
        attempt(Client(), email, "wrong-password")
    clock.advance(30)  # the account-wide delay is over; the pair's pause is not
    response = attempt(Client(), email, builders.PASSWORD)
    assert response.status_code == 200, "the right password must not get in from the guessing address"
    assert "sign-in is paused" in form_errors(response)
    # the same browser and address may still sign in to another account (3 < 6 per address)
    other = builders.make_member(owner.organization, "other@acme.example", role="admin")
    assert signed_in(attempt(Client(), other.user.email, builders.PASSWORD))
    clock.advance(600)
    assert signed_in(attempt(Client(), email, builders.PASSWORD))


def test_pairs_are_per_account_case_insensitively(limits, owner, clock):
    for variant in (owner.user.email.upper(), owner.user.email, f" {owner.user.email.title()} "):
        attempt(Client(), variant, "nope")
    clock.advance(30)
    assert "sign-in is paused" in form_errors(attempt(Client(), owner.user.email, builders.PASSWORD))


def test_an_address_guessing_many_accounts_is_paused(limits, owner):
    for n in range(6):
        attempt(Client(), f"nobody{n}@example.com", "nope", address="127.0.9.9")
    assert "sign-in is paused" in form_errors(attempt(Client(), owner.user.email, builders.PASSWORD, address="127.0.9.9"))
    assert signed_in(attempt(Client(), owner.user.email, builders.PASSWORD, address="127.0.1.1"))


def test_many_addresses_guessing_one_account_get_a_growing_delay_not_a_lockout(limits, owner, clock):
    email = owner.user.email
    addresses = iter(f"198.51.100.{n}" for n in range(1, 200))
    for _ in range(3):
        attempt(Client(), email, "nope", address=next(addresses))
    waits = []
    for _ in range(6):
        refused = attempt(Client(), email, builders.PASSWORD, address=next(addresses))
        assert not signed_in(refused)
        waits.append(throttle.signin_refusal(None, email).seconds)
        assert f"try again in {waits[-1]} second(s)" in form_errors(refused)
        clock.advance(waits[-1] + 0.5)  # the delay passes: an attempt is allowed (and fails again)
        assert "Too many" not in form_errors(attempt(Client(), email, "nope", address=next(addresses)))
    assert waits == [1, 2, 4, 8, 8, 8]  # doubling, capped at ADMIN_LOGIN_MAX_DELAY_SECONDS
    clock.advance(9)
    assert signed_in(attempt(Client(), email, builders.PASSWORD, address=next(addresses)))


def test_a_browser_that_signed_in_before_is_not_delayed(limits, owner, admin_member, clock):
    email = owner.user.email
    browser = known_browser(email)
    admins_browser = known_browser(admin_member.user.email)
    for n in range(5):
        attempt(Client(), email, "nope", address=f"198.51.100.{n}")
    assert "second(s)" in form_errors(attempt(Client(), email, builders.PASSWORD, address="203.0.113.50"))
    # a cookie for another account, or a forged one, is no way around the delay
    assert "second(s)" in form_errors(attempt(admins_browser, email, builders.PASSWORD, address="203.0.113.50"))
    forged = Client()
    forged.cookies[throttle.TRUSTED_COOKIE] = f"{owner.user.pk}:forged"
    assert "second(s)" in form_errors(attempt(forged, email, builders.PASSWORD, address="203.0.113.50"))
    assert signed_in(attempt(browser, email, builders.PASSWORD, address="203.0.113.50"))


def test_the_known_browser_cookie_is_signed_http_only_and_lax(limits, owner, settings):
    settings.SESSION_COOKIE_SECURE = True
    browser = Client()
    attempt(browser, owner.user.email, builders.PASSWORD)
    cookie = browser.cookies[throttle.TRUSTED_COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 90 * 24 * 3600
    assert signing.loads(cookie.value, salt=throttle.TRUSTED_SALT) == [owner.user.pk]
    with pytest.raises(signing.BadSignature):  # a salt of its own: no other signed value passes for it
        signing.loads(cookie.value)


def test_the_holder_is_e_mailed_once_per_window(limits, owner, clock, mailoutbox, settings):
    # The window ends when the cache's keys expire: local memory, whose expiry
    # reads the moved clock (Redis keeps its own time).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "alert-window"}}
    email = owner.user.email
    for n in range(2):
        attempt(Client(), email, "nope", address=f"198.51.100.{n}")
    assert mailoutbox == []
    attempt(Client(), email, "nope", address="198.51.100.7")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    body = " ".join(message.body.split())
    assert message.to == [email] and message.subject == "Someone is trying to sign in as you"
    assert "3 sign-in attempts" in body and "from 198.51.100.7." in body
    assert "198.51.100.0" not in body and "198.51.100.1" not in body
    for n in range(3):
        clock.advance(10)
        attempt(Client(), email, "nope", address=f"198.51.100.{20 + n}")
    assert len(mailoutbox) == 1, "once per window"
    clock.advance(600)  # a new window (the cache's expiry reads the same clock)
    for n in range(3):
        attempt(Client(), email, "nope", address=f"198.51.100.{40 + n}")
    assert len(mailoutbox) == 2


def test_each_step_is_audited_for_existing_accounts_only(limits, owner, clock):
    user = owner.user
    attempt(Client(), user.email, "nope", address="198.51.100.1")  # failed
    attempt(Client(), user.email, "nope")
    attempt(Client(), user.email, "nope")  # 3rd: delayed and alert
    clock.advance(2)
    attempt(Client(), user.email, "nope")  # the pair reaches 3: paused
    assert actions(user) == [
        "account.signin_failed", "account.signin_failed", "account.signin_delayed", "account.signin_alert_sent",
        "account.signin_throttled",
    ]
    paused = AuditEvent.objects.get(action="account.signin_throttled")
    assert paused.organization is None and paused.client_address == GUESSER
    assert paused.after["failures"] == 4 and paused.after["from_this_address"] == 3
    assert AuditEvent.objects.get(action="account.signin_alert_sent").client_address == GUESSER
    for _ in range(4):
        attempt(Client(), "nobody@acme.example", "nope", address="198.51.100.2")
    assert not AuditEvent.objects.filter(target_label__icontains="nobody").exists()
    assert not AuditEvent.objects.filter(actor_label__icontains="nobody").exists()
    assert AuditEvent.objects.filter(action__startswith="account.signin").count() == 5


def test_a_failure_writes_one_audit_row_in_one_insert(limits, owner, django_assert_num_queries):
    """Bookkeeping after the response: the account lookup and one INSERT."""
    failure = throttle.Failure(account_failures=1, pair_failures=1)
    with django_assert_num_queries(2):
        throttle.account_failed(owner.user.email, failure, GUESSER)


def test_a_refused_right_password_is_not_counted_as_a_failed_password(limits, plain_member):
    """A deactivated member with the right password is told they cannot sign in;
    that is not a guess and neither pauses nor delays the account."""
    from scim.provisioning import set_membership_active

    set_membership_active(plain_member, False, actor=None)
    for _ in range(5):
        assert "cannot sign in" in form_errors(attempt(Client(), plain_member.user.email, builders.PASSWORD))
    assert throttle.signin_refusal(None, plain_member.user.email) is None
    assert not AuditEvent.objects.filter(action__startswith="account.signin").exists()


def test_cache_outage_fails_open(limits, owner, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                    "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}
    }
    assert not signed_in(attempt(Client(), owner.user.email, "nope"))
    assert signed_in(attempt(Client(), owner.user.email, builders.PASSWORD))


def test_admin_index_after_sign_in(limits, owner):
    client = Client()
    attempt(client, owner.user.email, builders.PASSWORD)
    assert client.get(reverse("admin:index")).status_code == 200


def test_confirming_a_password_counts_like_a_sign_in(limits, owner, rf, clock):
    """The password typed to open another org (signin.views.confirm_password) is
    a password attempt: the guessing pair is paused, elsewhere it still works."""
    from organizations.signin.forms import ConfirmPasswordForm

    guessing = rf.post("/", REMOTE_ADDR=GUESSER)
    for _ in range(3):
        assert not ConfirmPasswordForm(owner.user, {"password": "nope"}, request=guessing).is_valid()
    clock.advance(30)
    refused = ConfirmPasswordForm(owner.user, {"password": builders.PASSWORD}, request=guessing)
    assert not refused.is_valid() and "sign-in is paused" in str(refused.errors)
    elsewhere = rf.post("/", REMOTE_ADDR=OWNER_ADDRESS)
    assert ConfirmPasswordForm(owner.user, {"password": builders.PASSWORD}, request=elsewhere).is_valid()
