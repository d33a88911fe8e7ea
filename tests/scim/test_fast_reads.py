"""The hot user reads (scim.api.fast_reads) answer exactly what the regular
path answers, keep its tenancy, errors, versions and limits, and cost one
statement once the token is remembered."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership, MembershipEmail, OrgRole, User
from scim.api import fast_reads
from scim.models import ScimGroup, ScimGroupMember
from scim.redis_client import redis_client
from tests import builders
from tests.builders import enable_scim
from tests.scim.api.helpers import ENTERPRISE, ERROR_SCHEMA, ScimClient, redis_commands_sent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forget_tokens")]

# What a response carries that must be the same on both paths.
HEADERS = ("Content-Type", "ETag", "Location", "Content-Length", "X-Frame-Options", "Retry-After", "WWW-Authenticate")


@pytest.fixture
def scim(org) -> ScimClient:
    return ScimClient(org, enable_scim(org)[1], Client())


@pytest.fixture
def other_scim(other_org) -> ScimClient:
    return ScimClient(other_org, enable_scim(other_org, "entra-id-scim")[1], Client())


@pytest.fixture
def served(monkeypatch) -> list:
    """The plans the fast path served, in order."""
    seen = []
    serve = fast_reads.serve

    def spy(request, plan):
        seen.append(plan.kind)
        return serve(request, plan)

    monkeypatch.setattr(fast_reads, "serve", spy)
    return seen


def regular(monkeypatch, fn):
    """fn() with the fast path off: the answer of django-scim2's views."""
    with monkeypatch.context() as m:
        m.setattr(fast_reads, "plan", lambda request: None)
        return fn()


def people(org, n: int) -> list[Membership]:
    """Members with what a User document can carry: names, several e-mails,
    the enterprise extension, name parts kept in scim_extra, groups, some
    without any of it; one inactive."""
    start = User.objects.count()
    users = User.objects.bulk_create(User(email=f"p{start + i}@acme.example") for i in range(n))
    members = []
    for i, user in enumerate(users):
        extra = {}
        if i % 3 == 0:
            extra[ENTERPRISE] = {"employeeNumber": str(1000 + i), "department": "R&D",
                                 "manager": {"value": "42", "displayName": "Boss"}}
        if i % 4 == 1:
            extra["urn:ietf:params:scim:schemas:core:2.0:User"] = {"name": {"formatted": f"Ms Ünïcode {i}"}}
        members.append(Membership(
            organization=org, user=user, role=OrgRole.MEMBER, scim_username=f"Person.{i}@Acme.example",
            scim_external_id=f"ext-{i % 5}" if i % 2 == 0 else "", given_name="Given" if i % 2 else "",
            family_name=f"Family {i}", display_name=f"Person {i}" if i % 5 else "", active=i != 7, scim_extra=extra,
        ))
    members = Membership.objects.bulk_create(members)
    emails = []
    for i, m in enumerate(members):
        if i % 6 != 5:
            emails.append(MembershipEmail(membership=m, value=f"work{i}@acme.example", type="work", primary=True))
        if i % 2 == 0:
            emails.append(MembershipEmail(membership=m, value=f"home{i}@acme.example", type="home", primary=False,
                                          display="Home"))
    MembershipEmail.objects.bulk_create(emails)
    groups = [ScimGroup.objects.create(organization=org, display_name=f"Team {g}") for g in range(3)]
    ScimGroupMember.objects.bulk_create(
        ScimGroupMember(group=groups[g], membership=m) for i, m in enumerate(members) for g in range(3) if (i + g) % 3 == 0
    )
    return members


def same_answer(monkeypatch, fn) -> None:
    fast, slow = fn(), regular(monkeypatch, fn)
    assert fast.status_code == slow.status_code
    assert fast.content == slow.content  # byte for byte
    for header in HEADERS:
        assert fast.get(header) == slow.get(header), header


def test_every_user_reads_the_same_on_both_paths(scim, org, monkeypatch, served):
    members = people(org, 24)
    for m in members:
        same_answer(monkeypatch, lambda: scim.get(f"/Users/{m.pk}"))
        same_answer(monkeypatch, lambda: scim.get("/Users", {"filter": f'userName eq "{m.scim_username.lower()}"'}))
        same_answer(monkeypatch, lambda: scim.get(
            "/Users", {"filter": f'userName eq "{m.scim_username}"', "startIndex": 1, "count": 100}))
    for value in ("ext-0", "ext-2", "EXT-0", "ext-9"):
        for count in (1, 2, 100):
            same_answer(monkeypatch, lambda: scim.get("/Users", {"filter": f'externalId eq "{value}"', "count": count}))
    same_answer(monkeypatch, lambda: scim.get("/Users", {"filter": 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "person.3@acme.example"'}))
    for start, count in ((1, 1), (1, 2), (3, 2), (20, 10), (1, 0), (500, 5)):
        same_answer(monkeypatch, lambda: scim.get("/Users", {"startIndex": start, "count": count}))
    same_answer(monkeypatch, lambda: scim.get("/Users", {"filter": 'userName eq "person.3@acme.example"', "startIndex": 2}))
    same_answer(monkeypatch, lambda: scim.get("/Users", {"filter": 'userName eq "person.3@acme.example"', "count": 1}))
    same_answer(monkeypatch, lambda: scim.get("/Users"))
    assert set(served) == {fast_reads.ONE, fast_reads.USER_NAME, fast_reads.EXTERNAL_ID, fast_reads.PAGE}
    assert len(served) == 24 * 3 + 12 + 1 + 6 + 2 + 1


def test_a_not_found_and_a_bad_id_read_the_same(scim, org, other_org, monkeypatch, served):
    stranger = builders.make_member(other_org, "stranger@globex.example")
    for path in ("/Users/999999", "/Users/abc", f"/Users/{stranger.pk}", "/Users/0"):
        same_answer(monkeypatch, lambda: scim.get(path))
    assert scim.get("/Users/999999").json() == {"schemas": [ERROR_SCHEMA], "status": "404", "detail": "User not found"}
    assert len(served) == 4 + 1


@pytest.mark.parametrize("query", [
    {"attributes": "userName"},
    {"excludedAttributes": "groups"},
    {"filter": 'userName eq "person.1@acme.example"', "attributes": "emails"},
    {"filter": 'userName sw "person"'},
    {"filter": 'displayName eq "Person 1"'},
    {"filter": 'userName eq "person.1@acme.example" and active eq true'},
    {"filter": "externalId eq 5"},
    {"sortBy": "userName"},
    {"count": "1", "sortOrder": "descending"},
])
def test_what_the_fast_path_does_not_handle_takes_the_regular_path(scim, org, monkeypatch, served, query):
    people(org, 6)
    same_answer(monkeypatch, lambda: scim.get("/Users", query))
    assert served == []


@pytest.mark.parametrize("bad", ['userName eq', 'userName eq "x" or', '(userName eq "x"', 'userName zz "x"', "externalId"])
def test_a_malformed_filter_is_still_invalid_filter(scim, bad, served):
    response = scim.get("/Users", {"filter": bad})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert served == []


def test_bad_paging_is_still_a_scim_400(scim, served):
    response = scim.get("/Users", {"filter": 'userName eq "a@b.c"', "count": "many"})
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidValue")
    assert served == []


def test_unchanged_user_is_304_with_its_etag(scim, org, served):
    member = people(org, 1)[0]
    first = scim.get(f"/Users/{member.pk}")
    again = scim.get(f"/Users/{member.pk}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"] and again.content == b""
    assert again["Location"].endswith(f"/Users/{member.pk}")
    assert scim.get(f"/Users/{member.pk}", HTTP_IF_NONE_MATCH='W/"0"').status_code == 200
    assert served == [fast_reads.ONE] * 3


# --- tenancy ------------------------------------------------------------------------


def test_another_orgs_token_never_sees_the_user(scim, other_scim, org, served):
    member = people(org, 1)[0]
    lookup = {"filter": f'userName eq "{member.scim_username}"'}
    # Warmed up: both tokens are remembered (with Redis) before they are misused.
    for client in (scim, other_scim):
        client.get("/Users", {"count": 1})
        client.get("/Users", {"count": 1})
    assert scim.get("/Users", lookup).json()["totalResults"] == 1
    # Org B's own URL: the user does not exist there.
    assert other_scim.get("/Users", lookup).json()["totalResults"] == 0
    assert other_scim.get("/Users", {"filter": 'externalId eq "ext-0"'}).json()["totalResults"] == 0
    assert other_scim.get(f"/Users/{member.pk}").status_code == 404
    assert member.pk not in [int(r["id"]) for r in other_scim.get("/Users", {"count": 100}).json()["Resources"]]
    # Org B's token at org A's URL: an unknown token.
    intruder = ScimClient(org, other_scim.token, Client())
    for path, query in (("/Users", lookup), (f"/Users/{member.pk}", {}), ("/Users", {"count": 1})):
        response = intruder.get(path, query)
        assert response.status_code == 401, path
        assert response.json()["detail"].startswith("Unknown token")
        assert member.scim_username not in response.content.decode()


def test_scim_disabled_after_the_token_was_remembered_is_401_at_once(scim, org, served):
    member = people(org, 1)[0]
    for _ in range(3):
        assert scim.get(f"/Users/{member.pk}").status_code == 200
    org.scim_enabled = False
    org.save(update_fields=["scim_enabled"])
    for path, query in ((f"/Users/{member.pk}", {}), ("/Users", {"filter": f'userName eq "{member.scim_username}"'}),
                        ("/Users", {"count": 2})):
        response = scim.get(path, query)
        assert response.status_code == 401
        assert response.json()["detail"].startswith("SCIM is disabled")
        assert response["WWW-Authenticate"]


def test_no_token_is_401_on_the_fast_path_too(org, scim, served):
    response = Client().get(scim.url("/Users"), {"filter": 'userName eq "a@b.c"'})
    assert response.status_code == 401 and response.json()["detail"].startswith("No Bearer token")
    assert served == [fast_reads.USER_NAME]


def test_activity_names_the_fast_reads_as_before(scim, org, served):
    from scim.models import ProvisioningEvent

    member = people(org, 1)[0]
    scim.get("/Users", {"filter": f'userName eq "{member.scim_username}"'})
    scim.get(f"/Users/{member.pk}")
    scim.get("/Users", {"count": 2})
    scim.get("/Users/999999")
    rows = list(ProvisioningEvent.objects.filter(organization=org).order_by("pk")
                .values_list("operation", "target", "status", "outcome", "detail"))
    assert rows == [
        ("Look up users", f'userName eq "{member.scim_username}"', 200, "success", ""),
        ("Get user", member.scim_username, 200, "success", ""),
        ("List users", "", 200, "success", ""),
        ("Get user", "id 999999", 404, "failure", "User not found"),
    ]


# --- statements and roundtrips ---------------------------------------------------


def _statements(fn) -> list[str]:
    from scim import activity

    with CaptureQueriesContext(connection) as ctx:
        response = fn()
    assert response.status_code == 200, response.content
    activity.discard()
    return [q["sql"] for q in ctx.captured_queries if "scim_provisioningevent" not in q["sql"]]


READS = {
    "userName eq": lambda m: ("/Users", {"filter": f'userName eq "{m.scim_username}"', "startIndex": 1, "count": 100}),
    "externalId eq": lambda m: ("/Users", {"filter": f'externalId eq "{m.scim_external_id}"'}),
    "GET by id": lambda m: (f"/Users/{m.pk}", {}),
    "connector test count=1": lambda m: ("/Users", {"startIndex": 1, "count": 1}),
    "connector test count=2": lambda m: ("/Users", {"startIndex": 1, "count": 2}),
}


@pytest.mark.parametrize("read", READS)
def test_each_hot_read_is_one_statement_once_the_token_is_remembered(scim, org, read, served):
    """With Redis (the token remembered, the total cached): the one statement
    that reads the user(s), e-mails and groups on PostgreSQL (three on SQLite:
    members, e-mails, groups), plus the activity INSERT, which is left out
    here. Without Redis the token is looked up: one statement more."""
    member = people(org, 3)[0]
    path, query = READS[read](member)
    for _ in range(3):  # the token's last_used_at write, then remembered; the total cached
        scim.get(path, query)
    sql = _statements(lambda: scim.get(path, query))
    expected = (1 if connection.vendor == "postgresql" else 3) + (0 if redis_client() is not None else 1)
    assert len(sql) == expected, sql
    assert not any("COUNT(" in s for s in sql)
    assert served[-1] in {fast_reads.ONE, fast_reads.USER_NAME, fast_reads.EXTERNAL_ID, fast_reads.PAGE}


@pytest.mark.redis
@pytest.mark.parametrize("read", READS)
def test_each_hot_read_is_one_redis_roundtrip(redis_cache, scim, org, read, monkeypatch, served):
    """Token version, rate limit counters and the cached total: one script call."""
    member = people(org, 3)[0]
    path, query = READS[read](member)
    for _ in range(3):
        scim.get(path, query)
    sent = redis_commands_sent(monkeypatch)
    sql = _statements(lambda: scim.get(path, query))
    assert sent == ["EVALSHA"]
    assert len(sql) == (1 if connection.vendor == "postgresql" else 3)


@pytest.mark.redis
def test_the_script_counts_every_request_as_the_regular_check_does(redis_cache, scim, org, monkeypatch, served):
    """Every fast read is counted on the installation's counters (the keys the
    regular path counts on): the minute's count grows by one per request (the
    burst cap's count too: test_the_rate_limit_still_answers_429)."""
    from types import SimpleNamespace

    from scim.api import ratelimit
    from scim.models import AppInstallation

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_000.5))
    member = people(org, 1)[0]
    for _ in range(3):  # the token is remembered
        assert scim.get(f"/Users/{member.pk}").status_code == 200
    count = ratelimit.request_count(AppInstallation.objects.get(organization=org).pk)
    before = int(redis_client().get(count.minute_key))
    for _ in range(5):
        assert scim.get("/Users", {"filter": f'userName eq "{member.scim_username}"'}).status_code == 200
    assert int(redis_client().get(count.minute_key)) == before + 5
    assert served[-5:] == [fast_reads.USER_NAME] * 5


@pytest.mark.redis
def test_the_rate_limit_still_answers_429(redis_cache, scim, org, settings, served):
    member = people(org, 1)[0]
    settings.SCIM_RATE_LIMIT_BURST = 3
    statuses = [scim.get(f"/Users/{member.pk}").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    refused = scim.get(f"/Users/{member.pk}")
    if refused.status_code == 429:
        assert refused["Retry-After"] and refused.json()["status"] == "429"


@pytest.mark.redis
def test_with_the_limits_off_the_script_counts_nothing(redis_cache, scim, org, settings, served):
    from scim.api import ratelimit
    from scim.models import AppInstallation

    member = people(org, 1)[0]
    settings.SCIM_RATE_LIMIT_BURST = settings.SCIM_RATE_LIMIT_PER_MINUTE = 0
    for _ in range(4):
        assert scim.get(f"/Users/{member.pk}").status_code == 200
    settings.SCIM_RATE_LIMIT_BURST = settings.SCIM_RATE_LIMIT_PER_MINUTE = 10
    count = ratelimit.request_count(AppInstallation.objects.get(organization=org).pk)
    assert redis_client().get(count.minute_key) is None and redis_client().get("-") is None  # nothing counted anywhere
    assert served == [fast_reads.ONE] * 4


@pytest.mark.redis
def test_a_token_revoked_after_it_was_remembered_is_refused_at_once(redis_cache, scim, org, served):
    from django.utils import timezone

    from scim.models import SecretToken

    member = people(org, 1)[0]
    for _ in range(3):
        assert scim.get(f"/Users/{member.pk}").status_code == 200
    token = SecretToken.objects.get(installation__organization=org)
    token.revoked_at = timezone.now()
    token.save()
    response = scim.get(f"/Users/{member.pk}")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This token was regenerated")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_costs_the_read_nothing(redis_cache, org, served):
    """The read is its own health check: on a persistent connection the server
    closed while idle it fails, and runs again on a new connection."""
    import psycopg

    scim = ScimClient(org, enable_scim(org)[1], Client())
    member = people(org, 1)[0]
    for _ in range(3):  # the token is remembered: the user read is the request's first statement
        assert scim.get(f"/Users/{member.pk}").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings_dict = connection.settings_dict
    with psycopg.connect(host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432, user=settings_dict["USER"],
                         dbname=settings_dict["NAME"], autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # What request_started does for a request in production (the test client leaves it out).
    connection.health_check_done = False
    with CaptureQueriesContext(connection) as ctx:
        response = scim.get(f"/Users/{member.pk}")
    assert response.status_code == 200, response.content
    assert not any(q["sql"].strip().upper() == "SELECT 1" for q in ctx.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert served[-1] == fast_reads.ONE


# --- the plain filter's shortcut ---------------------------------------------------


@pytest.mark.parametrize("filter_", [
    'userName eq "a@b.c"', 'USERNAME EQ "Ada@X.com"', ' userName  eq  "x" ', 'userName\teq\t"x"', 'externalId eq ""',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"',
    'URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:externalId eq "00u1"', 'userName eq "é ü\u2028\x7f"',
    # left to the parser, which decides as before
    'uſerName eq "x"', 'userName eq "a\\"b"', 'userName eq "a\\u00e9"', 'userName\u00a0eq "x"',
    'userName eq "x" and active eq true', 'emails eq "x"', 'userName eq "x', 'userName eq x-y', "userName eq 5",
])
def test_the_plain_filter_shortcut_reads_what_the_parser_reads(filter_, monkeypatch):
    fast = fast_reads._key_eq(filter_)
    monkeypatch.setattr(fast_reads, "_PLAIN_KEY_EQ", re.compile(r"(?!)"))  # never matches: the parser decides
    assert fast == fast_reads._key_eq(filter_)
