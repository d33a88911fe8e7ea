"""Reading PostgreSQL's plans, for the tests that check a statement stays a
point query or a page read while an org grows (tests/scim/api/test_lookup_plans.py,
tests/organizations/test_admin_page_plans.py)."""
from __future__ import annotations

import json

from django.db import connection


def explain(sql: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)
