"""Rows written many at a time: audit entries (organizations.audit.record_each),
batches of rows (scim.rawsql.insert: Provisioning activity) and the id lists
of bulk statements (scim.rawsql.in_ids). What is stored is exactly what was
given, in one statement whose text does not grow with the batch (psycopg
parses a statement's text once only while it has at most 50 parameters, and
quotes each parameter in Python)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations.audit import record_each
from organizations.models import AuditEvent, Membership
from scim import activity, rawsql
from scim.models import ProvisioningEvent
from tests import builders

pytestmark = pytest.mark.django_db

# What labels and JSON values may hold: quotes, backslashes, braces and commas
# (an array literal's own syntax), newlines, non-ASCII.
AWKWARD = ['plain', 'with "quotes"', "back\\slash", "{brace,comma}", "new\nline", "Zoë 日本", "", "'single'"]


def entries(n: int, offset: int = 0):
    for k in range(n):
        text = AWKWARD[k % len(AWKWARD)]
        before = None if k % 3 == 0 else {"role": "member", "note": text, "stack_roles": [[k, k + 1]]}
        after = {"role": "admin", "note": text, "nested": {"list": [text, None, True, 1.5]}}
        yield str(offset + k), f"{text} #{k}", before, after


def test_every_entry_is_stored_as_given(org):
    given = list(entries(40))
    with CaptureQueriesContext(connection) as ctx:
        written = record_each(org, None, "access.recompute", "organizations.membership", given)
    assert written == 40
    assert len(ctx.captured_queries) == 1  # elsewhere than PostgreSQL, one executemany
    stored = {e.target_id: e for e in AuditEvent.objects.filter(organization=org, action="access.recompute")}
    assert len(stored) == 40
    for target_id, label, before, after in given:
        event = stored[target_id]
        assert (event.target_label, event.before, event.after) == (label, before, after)
        assert (event.actor_type, event.target_type, event.org_uid) == ("system", "organizations.membership", org.uid)


def test_long_labels_are_cut_to_the_column(org):
    record_each(org, None, "access.recompute", "organizations.membership", [("1", "x" * 400, None, None)])
    event = AuditEvent.objects.get(organization=org, action="access.recompute")
    assert (event.target_label, event.before, event.after) == ("x" * 255, None, None)


def test_nothing_to_record_runs_nothing(org):
    with CaptureQueriesContext(connection) as ctx:
        assert record_each(org, None, "access.recompute", "organizations.membership", []) == 0
    assert ctx.captured_queries == []


@contextmanager
def statements_sent():
    """(SQL text, number of parameters) of every statement run inside, as the
    driver receives them."""
    sent = []

    def collect(execute, sql, params, many, context):
        sent.append((sql, len(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(collect):
        yield sent


@pytest.mark.postgres
def test_one_statement_of_one_text_for_any_batch(org):
    with statements_sent() as sent:
        for n in (1, 7, 300):
            record_each(org, None, "access.recompute", "organizations.membership", entries(n, offset=1000 * n))
    assert len(sent) == 3
    assert len(set(sent)) == 1, sent  # the same text and number of parameters each time
    assert sent[0][1] <= 50
    assert AuditEvent.objects.filter(organization=org, action="access.recompute").count() == 308


def test_in_ids_finds_exactly_the_ids(org, other_org):
    ids = sorted(Membership.objects.values_list("pk", flat=True))
    assert len(ids) >= 2
    wanted = ids[::2]
    test, params = rawsql.in_ids(wanted)
    table, column = rawsql.qn(Membership._meta.db_table), rawsql.qn("id")
    rows = rawsql.fetch(f"SELECT {column} FROM {table} WHERE {column} {test} ORDER BY {column}", params)
    assert [pk for (pk,) in rows] == wanted
    test, params = rawsql.in_ids([])
    assert rawsql.fetch(f"SELECT {column} FROM {table} WHERE {column} {test}", params) == []


@pytest.mark.postgres
def test_in_ids_is_one_parameter_whatever_the_count():
    assert rawsql.in_ids([1])[0] == rawsql.in_ids(list(range(1, 500)))[0]
    assert len(rawsql.in_ids(list(range(1, 500)))[1]) == 1


@pytest.mark.parametrize("value", ["1}", "5,6", "1) OR (1=1"])
def test_in_ids_refuses_what_is_not_an_id(value):
    with pytest.raises(ValueError):
        rawsql.in_ids([value, "2"])


def activity_rows(org, installation, n: int) -> list[dict]:
    start = timezone.now()
    return [
        {"organization_id": org.pk, "installation_id": installation.pk if k % 2 else None,
         "created_at": start - timedelta(microseconds=k * 1001), "method": "GET",
         "path": f"/scim/v2/organizations/{org.uid}/Users", "operation": "List users",
         "target": f'userName eq "{AWKWARD[k % len(AWKWARD)]}"', "status": 200 if k % 3 else 404,
         "outcome": "success" if k % 3 else "failure", "detail": AWKWARD[(k + 1) % len(AWKWARD)],
         "duration_ms": k, "occurrences": 1 + k % 4}
        for k in range(n)
    ]


@pytest.mark.parametrize("n", [1, 2, 120])
def test_insert_stores_every_row_as_given(org, n):
    installation, _ = builders.enable_scim(org)
    rows = activity_rows(org, installation, n)
    with CaptureQueriesContext(connection) as ctx:
        rawsql.insert(activity.EVENT, rows)
    assert len(ctx.captured_queries) == 1
    stored = list(ProvisioningEvent.objects.filter(organization=org).values(*activity.EVENT.names))
    key = lambda row: row["duration_ms"]  # noqa: E731
    assert sorted(stored, key=key) == sorted(rows, key=key)  # datetimes to the microsecond


@pytest.mark.postgres
def test_insert_is_one_parameter_whatever_the_batch(org):
    installation, _ = builders.enable_scim(org)
    with statements_sent() as sent:
        for n in (2, 100, 300):
            rawsql.insert(activity.EVENT, activity_rows(org, installation, n))
    assert len(set(sent)) == 1 and sent[0][1] == 1, sent
    assert ProvisioningEvent.objects.filter(organization=org).count() == 402
