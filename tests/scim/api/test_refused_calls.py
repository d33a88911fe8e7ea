"""Refused SCIM calls (401, 429): the 401 says why to the holder of one of the
org's own tokens and nothing more to anyone else, and every refused call reaches
the Provisioning activity list attributed to its installation or to "Unknown
token", coalesced and written in one statement off the request path, so a
valid call costs what it did."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.models import Organization
from scim import activity, installations
from scim.api import constants as c
from scim.models import ProvisioningEvent
from tests import builders
from tests.builders import enable_scim

from .helpers import ERROR_SCHEMA, ScimClient
from .test_queries import ACTIVITY, token_queries, user_doc_queries

pytestmark = pytest.mark.django_db

UNKNOWN = "odk_0badc0de_" + "x" * 43  # well-formed, issued to nobody


def call(client: Client, org_uid: str, token: str | None, path: str = "/Users"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get(f"/scim/v2/organizations/{org_uid}{path}", **headers)


def assert_401(response, detail: str) -> None:
    assert response.status_code == 401
    assert response["Content-Type"].startswith(c.SCIM_CONTENT_TYPE)
    assert response["WWW-Authenticate"].lower().startswith("bearer")
    assert response.json() == {"schemas": [ERROR_SCHEMA], "status": "401", "detail": detail}


def entries(org: Organization) -> list[tuple]:
    activity.flush()
    return list(
        ProvisioningEvent.objects.filter(organization=org)
        .order_by("pk")
        .values_list("installation_id", "status", "outcome", "operation", "detail", "occurrences")
    )


@pytest.fixture
def installed(org):
    installation, secret = enable_scim(org)
    return installation, secret


def test_no_token_and_an_unknown_token_are_recorded_as_unknown_token(client, org, installed):
    assert_401(call(client, org.uid, None), c.DETAIL_NO_TOKEN)
    assert_401(call(client, org.uid, UNKNOWN), c.DETAIL_UNKNOWN_TOKEN)
    assert_401(call(client, org.uid, UNKNOWN), c.DETAIL_UNKNOWN_TOKEN)
    assert entries(org) == [
        (None, 401, "failure", "List users", c.DETAIL_NO_TOKEN, 1),
        (None, 401, "failure", "List users", c.DETAIL_UNKNOWN_TOKEN, 2),
    ]


def test_a_regenerated_token_says_so_and_is_attributed_to_its_installation(client, org, owner, installed):
    installation, old = installed
    new = installations.regenerate_token(installation, actor=owner.user).secret
    assert_401(call(client, org.uid, old), c.DETAIL_TOKEN_REVOKED)
    assert call(client, org.uid, new).status_code == 200
    assert [e for e in entries(org) if e[1] == 401] == [
        (installation.pk, 401, "failure", "List users", c.DETAIL_TOKEN_REVOKED, 1)
    ]


def test_an_uninstalled_apps_token_says_so_and_is_attributed_to_it(client, org, owner, installed):
    installation, secret = installed
    installations.uninstall_app(installation, actor=owner.user)
    assert_401(call(client, org.uid, secret, "/Groups/7"), c.DETAIL_TOKEN_REVOKED)
    assert entries(org) == [(installation.pk, 401, "failure", "Get group", c.DETAIL_TOKEN_REVOKED, 1)]


def test_a_valid_token_while_scim_is_disabled_says_scim_is_disabled(client, org, owner, installed):
    installation, secret = installed
    installations.disable_scim(org, actor=owner.user)
    assert_401(call(client, org.uid, secret), c.DETAIL_SCIM_DISABLED)
    assert entries(org) == [(installation.pk, 401, "failure", "List users", c.DETAIL_SCIM_DISABLED, 1)]


def test_another_orgs_token_is_just_unknown_and_an_org_that_does_not_exist_answers_alike(
    client, org, other_org, installed
):
    _, theirs = enable_scim(other_org, "entra-id-scim")
    installations.disable_scim(other_org, actor=builders.owner_of(other_org).user)  # B's state must not show
    at_a = call(client, org.uid, theirs)
    nowhere = call(client, "doesnotexist12345678", theirs)
    unknown_at_a = call(client, org.uid, UNKNOWN)
    unknown_nowhere = call(client, "doesnotexist12345678", UNKNOWN)
    for response in (at_a, nowhere, unknown_at_a, unknown_nowhere):
        assert_401(response, c.DETAIL_UNKNOWN_TOKEN)
    assert len({r.content for r in (at_a, nowhere, unknown_at_a, unknown_nowhere)}) == 1
    def headers(response) -> list:
        return sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")

    assert headers(nowhere) == headers(unknown_at_a)
    # A records "unknown token" (not B's installation); B and the made-up org nothing.
    assert entries(org) == [(None, 401, "failure", "List users", c.DETAIL_UNKNOWN_TOKEN, 2)]
    assert entries(other_org) == []
    assert ProvisioningEvent.objects.count() == 1


def test_the_presented_token_is_never_stored(client, org, installed):
    call(client, org.uid, UNKNOWN)
    call(client, org.uid, installed[1] + "tampered")
    activity.flush()
    stored = " ".join(str(v) for row in ProvisioningEvent.objects.values() for v in row.values())
    assert stored and UNKNOWN not in stored and "x" * 43 not in stored and installed[1] not in stored


def test_an_address_locked_out_gets_429_recorded_against_unknown_token(client, org, installed, settings):
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 3
    statuses = [call(client, org.uid, UNKNOWN).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert [(e[0], e[1], e[5]) for e in entries(org)] == [(None, 401, 3), (None, 429, 2)]


def test_refused_calls_write_nothing_on_their_way_and_one_statement_later(
    client, org, other_org, owner, installed, settings
):
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 0  # no address lockout: every call is a 401
    installation, old = installed
    installations.regenerate_token(installation, actor=owner.user)
    enable_scim(other_org)
    with CaptureQueriesContext(connection) as ctx:
        for token in (old, UNKNOWN, None) * 20:
            call(client, org.uid, token)
            call(client, other_org.uid, token)
            call(client, "doesnotexist12345678", token)
    assert not [q for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    with CaptureQueriesContext(connection) as ctx:
        activity.flush()
    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("INSERT")
    # 180 refused calls: one row per org, installation and reason; none for the made-up org
    assert [(e[0], e[4], e[5]) for e in entries(org)] == [
        (installation.pk, c.DETAIL_TOKEN_REVOKED, 20),
        (None, c.DETAIL_UNKNOWN_TOKEN, 20),
        (None, c.DETAIL_NO_TOKEN, 20),
    ]
    assert [(e[0], e[4], e[5]) for e in entries(other_org)] == [
        (None, c.DETAIL_UNKNOWN_TOKEN, 40),  # A's old token is just unknown at B
        (None, c.DETAIL_NO_TOKEN, 20),
    ]
    assert ProvisioningEvent.objects.count() == 5


def test_a_flood_of_unknown_tokens_at_many_org_urls_is_capped(client, org, installed, settings, caplog):
    settings.SCIM_ACTIVITY_FAILURE_KEYS = 3
    settings.SCIM_AUTH_FAILURES_PER_MINUTE = 0
    for i in range(10):
        call(client, f"madeup{i:014d}", UNKNOWN)
    call(client, org.uid, UNKNOWN)  # over the cap: only counted in the log
    assert entries(org) == []
    assert "8 refused calls of unknown tokens over the cap not recorded" in caplog.text
    Organization.objects.filter(pk=org.pk).update(scim_enabled=False)
    for i in range(10):
        call(client, f"madeup{i:014d}", UNKNOWN)
    call(client, org.uid, installed[1])  # an installation's refusals are never crowded out
    assert [e[0] for e in entries(org)] == [installed[0].pk]


def test_a_valid_call_costs_the_statements_it_did_while_refusals_wait(
    client, org, owner, installed, django_assert_num_queries
):
    scim = ScimClient(org, installed[1], client)
    scim.get("/Users", {"count": 1})  # warm up (last_used_at write)
    scim.get("/Users", {"count": 1})
    for _ in range(5):
        call(client, org.uid, UNKNOWN)
    # pinned: the token lookup (none once remembered, with Redis), the user documents, the activity INSERT
    with django_assert_num_queries(token_queries() + user_doc_queries() + ACTIVITY):
        found = scim.get("/Users", {"filter": f'userName eq "{owner.user.email}"'})
    assert found.json()["totalResults"] == 1


def test_the_activity_list_shows_refusals_with_their_reason_and_attribution(client, org, owner, installed):
    installation, old = installed
    installations.regenerate_token(installation, actor=owner.user)
    for _ in range(3):
        call(client, org.uid, old)
    call(client, org.uid, UNKNOWN)
    client.force_login(owner.user)
    tab = reverse("admin:org-settings-scim", args=[org.uid])
    page = client.get(tab, {"outcome": "failure"}).content.decode()  # opening the tab writes what waits
    assert "Failed (401)" in page and c.DETAIL_TOKEN_REVOKED in page and c.DETAIL_UNKNOWN_TOKEN in page
    assert "List users ×3" in page and "Unknown token" in page
    unknown_only = client.get(tab, {"app": "unknown"}).context["provisioning_lines"]
    assert [(line.app_name, line.detail) for line in unknown_only] == [("Unknown token", c.DETAIL_UNKNOWN_TOKEN)]
    ours = client.get(tab, {"app": installation.pk}).context["provisioning_lines"]
    assert [(line.app_name, line.count, line.status) for line in ours] == [(installation.app.name, 3, 401)]


def test_refusals_written_by_the_window_timer(client, org, installed, settings, monkeypatch):
    """Off the request path: the timer thread writes them SCIM_ACTIVITY_FAILURE_WINDOW after the first."""
    import time

    settings.SCIM_ACTIVITY_FAILURE_WINDOW = 0.2
    written = []
    monkeypatch.setattr(activity, "_write_refusals", written.extend)
    call(client, org.uid, UNKNOWN)
    call(client, org.uid, UNKNOWN)
    deadline = time.monotonic() + 5
    while not written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r["org_uid"], r["occurrences"], r["status"]) for r in written] == [(org.uid, 2, 401)]
    assert "created_at" in written[0] and written[0]["created_at"] <= timezone.now()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_refusals_are_committed_asynchronously_by_org_uid(org):
    """Outside a transaction the one INSERT ... SELECT (values cast for the UNION)
    commits with synchronous_commit off, like the reads; a made-up uid writes nothing."""
    enable_scim(org)
    client = Client()
    call(client, org.uid, UNKNOWN)
    call(client, "doesnotexist12345678", UNKNOWN)
    call(client, org.uid, None)
    with CaptureQueriesContext(connection) as ctx:
        activity.flush()
    assert len(ctx.captured_queries) == 1 and "synchronous_commit TO OFF" in ctx.captured_queries[0]["sql"]
    assert sorted(ProvisioningEvent.objects.values_list("organization_id", "detail")) == sorted(
        [(org.pk, c.DETAIL_UNKNOWN_TOKEN), (org.pk, c.DETAIL_NO_TOKEN)])
