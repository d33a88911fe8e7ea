"""A signed-in session ends after SESSION_IDLE_TIMEOUT without a request and
SESSION_ABSOLUTE_LIFETIME after sign-in whatever the activity; the person is
told why and signs in again. Keeping the last-seen time writes the session at
most once a minute; anonymous requests and the SCIM API never touch the store."""
from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from organizations.signin import session_lifetime
from organizations.signin.session_lifetime import SEEN_KEY, STARTED_KEY
from tests import builders

pytestmark = pytest.mark.django_db
START = 1_800_000_000
HOUR = 3600


class Clock:
    """The session-lifetime module's clock, moved by hand."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> int:
        return self.at

    def advance(self, seconds: int) -> None:
        self.at += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(session_lifetime, "now", fake)
    return fake


@pytest.fixture
def member(org):
    return builders.make_member(org, "m@acme.example")


@pytest.fixture
def browser(member, clock) -> Client:
    """A member signed in with their password at START."""
    client = Client()
    assert client.login(username="m@acme.example", password=builders.PASSWORD)
    return client


def home(client: Client):
    return client.get(reverse("member_home"))


def assert_signed_out_with(client: Client, response, message: str) -> None:
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert SESSION_KEY not in client.session
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert message in [str(m) for m in page.context["messages"]]


def test_sign_in_stamps_the_session(browser):
    assert (browser.session[STARTED_KEY], browser.session[SEEN_KEY]) == (START, START)


def test_an_idle_session_ends_and_says_why(browser, clock):
    assert home(browser).status_code == 200
    clock.advance(12 * HOUR + 1)

    response = home(browser)

    assert_signed_out_with(browser, response, "Your session ended after 12 hours of inactivity; sign in again.")
    # signing in again starts a new lifetime
    assert browser.login(username="m@acme.example", password=builders.PASSWORD)
    assert home(browser).status_code == 200
    assert browser.session[STARTED_KEY] == clock.at


def test_the_idle_timeout_is_a_setting(browser, clock, settings):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    clock.advance(25 * 60)
    assert home(browser).status_code == 200
    clock.advance(31 * 60)
    assert_signed_out_with(browser, home(browser), "Your session ended after 30 minutes of inactivity; sign in again.")


def test_an_active_session_keeps_working_past_the_idle_timeout(browser, clock):
    """A request every 11 hours for three days: never idle for 12 hours."""
    for _ in range(7):
        clock.advance(11 * HOUR)
        assert home(browser).status_code == 200
    assert SESSION_KEY in browser.session
    assert browser.session[SEEN_KEY] == clock.at


def test_the_absolute_lifetime_ends_a_session_even_with_activity(browser, clock, settings):
    settings.SESSION_ABSOLUTE_LIFETIME = 14 * 24 * HOUR
    for _ in range(14 * 2):  # a request every 12 hours minus a minute, for 14 days
        clock.advance(12 * HOUR - 60)
        assert home(browser).status_code == 200
    clock.advance(12 * HOUR)  # past 14 days since sign-in, 12 hours since the last request

    response = home(browser)

    assert_signed_out_with(browser, response, "Your session expired 14 days after you signed in; sign in again.")


def test_the_cookie_lives_no_longer_than_the_absolute_lifetime(settings):
    from django.conf import settings as live

    assert live.SESSION_COOKIE_AGE == live.SESSION_ABSOLUTE_LIFETIME == 14 * 24 * HOUR
    assert live.SESSION_IDLE_TIMEOUT == 12 * HOUR


def session_writes(queries) -> list[str]:
    return [q["sql"] for q in queries if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")]


def test_the_last_seen_time_is_written_at_most_once_a_minute(browser, clock):
    for _ in range(5):
        clock.advance(10)
        with CaptureQueriesContext(connection) as queries:
            assert home(browser).status_code == 200
        assert session_writes(queries.captured_queries) == []
    assert browser.session[SEEN_KEY] == START

    clock.advance(10)  # 60 s since the last write
    with CaptureQueriesContext(connection) as queries:
        assert home(browser).status_code == 200
    assert len(session_writes(queries.captured_queries)) == 1
    assert browser.session[SEEN_KEY] == clock.at


def test_a_session_from_before_the_check_is_stamped_on_its_next_request(browser, clock):
    session = browser.session
    del session[STARTED_KEY], session[SEEN_KEY]
    session.save()
    clock.advance(30 * 24 * HOUR)  # older than any lifetime, but it cannot be told
    assert home(browser).status_code == 200
    assert (browser.session[STARTED_KEY], browser.session[SEEN_KEY]) == (clock.at, clock.at)


def test_anonymous_requests_and_the_scim_api_never_touch_the_session_store(org, clock, monkeypatch):
    _installation, token = builders.enable_scim(org)
    checked = []
    monkeypatch.setattr(session_lifetime, "ended_because", lambda *args: checked.append(args))

    def no_load(self):
        raise AssertionError("the session store was read for a request without a session cookie")

    monkeypatch.setattr(SessionStore, "load", no_load)
    client = Client()
    scim = client.get(f"/scim/v2/organizations/{org.uid}/Users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert scim.status_code == 200
    assert client.get(reverse("admin:login")).status_code == 200
    assert checked == []
