"""The client address comes from X-Forwarded-For only through trusted proxies:
behind them the rate limits, the bad-token lockout, the sign-in throttle and
the audit log see each client; a header forged from anywhere else is ignored."""
from __future__ import annotations

import pytest
from django.test import Client

from organizations.models import AuditEvent
from organizations.request_context import resolve_client_address
from tests import builders
from tests.scim.api.helpers import ScimClient, new_user

PROXY = "10.0.0.5"
BAD = "odk_deadbeef_not-a-real-token"


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    return settings


@pytest.mark.parametrize(
    "count, proxies, remote, forwarded, expected",
    [
        (0, [], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # nothing trusted: the header is ignored
        (0, ["10.0.0.0/24"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from the proxy
        (0, ["10.0.0.0/24"], PROXY, "198.51.100.1", "198.51.100.1"),
        (0, ["10.0.0.0/24"], PROXY, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # forged left entry ignored
        (0, ["10.0.0.0/24"], PROXY, "198.51.100.1, 10.0.0.7", "198.51.100.1"),  # two trusted hops
        (0, ["10.0.0.0/24"], PROXY, "", PROXY),  # no header: the proxy itself
        (0, ["10.0.0.0/24"], PROXY, "not-an-ip", PROXY),  # garbage: stop at the last hop we can name
        (1, [], "172.17.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # count: the nearest hop only
        (2, [], "172.17.0.2", "6.6.6.6, 198.51.100.1, 10.1.1.1", "198.51.100.1"),
        (1, [], "172.17.0.2", "[2001:db8::1]:4711", "2001:db8::1"),
        (0, ["::1"], "::1", "198.51.100.1:5555", "198.51.100.1"),
    ],
)
def test_client_address_is_read_only_through_trusted_proxies(settings, count, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXIES = proxies
    assert resolve_client_address(remote, forwarded) == expected


@pytest.mark.django_db
def test_lockout_follows_the_client_behind_the_proxy(one_proxy, settings, scim, org):
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 3
    bad = ScimClient(org, BAD, Client())
    via_proxy = {"REMOTE_ADDR": PROXY}
    for _ in range(3):
        assert bad.get("/Users", HTTP_X_FORWARDED_FOR="198.51.100.1", **via_proxy).status_code == 401
    assert bad.get("/Users", HTTP_X_FORWARDED_FOR="198.51.100.1", **via_proxy).status_code == 429
    # Another client behind the same proxy is not locked out with the first.
    assert bad.get("/Users", HTTP_X_FORWARDED_FOR="198.51.100.2", **via_proxy).status_code == 401


@pytest.mark.django_db
def test_a_spoofed_header_from_outside_does_not_escape_the_lockout(one_proxy, settings, scim, org):
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 3
    bad = ScimClient(org, BAD, Client())
    for n in range(3):
        bad.get("/Users", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    # A fresh forged address every time changes nothing: the address is REMOTE_ADDR.
    assert bad.get("/Users", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.77").status_code == 429
    # Nor can a client behind the proxy forge its way out by prepending addresses.
    for _ in range(3):
        bad.get("/Users", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.50")
    forged = bad.get("/Users", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.50")
    assert forged.status_code == 429


@pytest.mark.django_db
def test_sign_in_throttle_counts_the_client_behind_the_proxy(one_proxy, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 100
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 2
    org = builders.make_org()
    email = builders.owner_of(org).user.email

    def attempt(client_ip: str, password: str, remote: str = PROXY):
        return Client().post(
            "/admin/login/",
            {"username": email, "password": password, "next": "/admin/"},
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=client_ip,
        )

    for _ in range(2):
        attempt("198.51.100.1", "wrong")
    assert attempt("198.51.100.1", builders.PASSWORD).status_code == 200  # refused: the form again
    assert attempt("198.51.100.2", builders.PASSWORD).status_code == 302  # another client signs in
    # From outside, a forged header is no way around the address's lockout.
    for _ in range(2):
        attempt("198.51.100.3", "wrong", remote="203.0.113.9")
    assert attempt("198.51.100.4", builders.PASSWORD, remote="203.0.113.9").status_code == 200


@pytest.mark.django_db
def test_audit_rows_carry_the_client_address_and_request_id(one_proxy, scim, org):
    response = scim.post(
        "/Users", new_user("proxied@example.com"), REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1", HTTP_X_REQUEST_ID="req-abc.123",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "req-abc.123"
    event = AuditEvent.objects.filter(organization=org).order_by("-id").first()
    assert (event.client_address, event.request_id) == ("198.51.100.1", "req-abc.123")
