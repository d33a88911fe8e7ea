"""Reading PostgreSQL's plans, for the tests that check a statement stays a
point query or a page read while an org grows (tests/scim/api/test_lookup_plans.py,
tests/organizations/test_admin_page_plans.py)."""
from __future__ import annotations

import json

from django.db import connection


def is_read(sql: str) -> bool:
    """A statement that reads: a SELECT, or the run of a prepared one (scim.rawsql.fetch_prepared)."""
    return sql.lstrip().upper().startswith(("SELECT", "EXECUTE", "PREPARE"))


def is_prepared(sql: str) -> bool:
    return sql.lstrip().upper().startswith(("EXECUTE", "PREPARE"))


def explainable(sql: str) -> str:
    """The statement of the query log to EXPLAIN: the first run of a prepared
    statement on a connection carries its PREPARE ahead of its EXECUTE, which
    is what runs every time (the statement is prepared on this connection, the
    test's, since the request just ran it)."""
    if sql.lstrip().upper().startswith("PREPARE"):
        return sql[sql.index("; EXECUTE ") + 2 :]
    return sql


def explain(sql: str, *, generic: bool = False) -> dict:
    """The plan PostgreSQL runs `sql` with. generic: for a prepared statement,
    its generic plan, which knows none of its values (the one the app runs them
    with: scim.rawsql.GENERIC_PLANS)."""
    with connection.cursor() as cursor:
        if generic:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        try:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + explainable(sql))
            plan = cursor.fetchone()[0]
        finally:
            if generic:
                cursor.execute("RESET plan_cache_mode")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)
