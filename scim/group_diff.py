"""A group PATCH's add/remove of members in one PostgreSQL statement.

Okta and Entra ID push group membership 100 members at a time, so this is the
write identity providers make most. `provisioning.change_group_members` hands
it here on PostgreSQL (with the group already locked by the caller): one
statement checks that every id to add is a membership of the group's org,
inserts the new links, deletes the named ones, moves the group's `updated_at`
(its version) and writes the audit entry, each part only when something
changed, and returns what it did. An unknown id writes nothing at all (every
part is guarded by it), and the caller refuses the call naming it.

Why one statement and plain SQL: the ORM spent more Python building the IN
lists of 100 ids, the model instances and the audit row than PostgreSQL took to
run them, and each statement was a roundtrip while the group's row lock is
held (requests for the same group queue behind it). The statement is built once
from the models' tables and columns; its size does not depend on the number of
members (the ids travel as arrays), so neither does its cost in Python.
Other databases keep the ORM path in `provisioning.change_group_members`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db import connection

from organizations.models import AuditEvent, Membership

from .models import ScimGroup, ScimGroupMember
from .rawsql import Columns, qn

# Audit columns given as values; `before` and `after` are built by the statement.
_AUDIT = Columns(
    AuditEvent,
    ("organization_id", "org_uid", "actor_type", "actor_id", "actor_label", "action", "target_type", "target_id",
     "target_label", "request_id", "client_address", "created_at"),
)


@dataclass(frozen=True)
class Diff:
    added: set[int]
    removed: set[int]
    before: int  # members before the change
    unknown: list[int]  # ids to add that are no membership of the org (then nothing was written)


@lru_cache(maxsize=None)
def _sql(id_limit: int) -> str:
    member, link, group = Membership._meta, ScimGroupMember._meta, ScimGroup._meta

    def col(meta, name: str) -> str:
        return qn(meta.get_field(name).column)

    m_id, m_org = col(member, "id"), col(member, "organization")
    l_group, l_member, l_created = col(link, "group"), col(link, "membership"), col(link, "created_at")
    audit_columns = ", ".join(qn(f.column) for f in _AUDIT.fields)
    audit_values = ", ".join(f"%(a_{f.attname})s" for f in _AUDIT.fields)
    before, after = qn(AuditEvent._meta.get_field("before").column), qn(AuditEvent._meta.get_field("after").column)

    def ids(cte: str) -> str:  # the first id_limit ids of a CTE, sorted, as a JSON array
        return (
            f"(SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) "
            f"FROM (SELECT id FROM {cte} ORDER BY id LIMIT {id_limit}) AS firsts)"
        )

    # The org is compared as (SELECT %s), as in scim.api.lookups: the planner
    # then finds the ids through the primary key whatever it thinks of the org.
    return f"""
WITH found AS (
    SELECT {m_id} AS id FROM {qn(member.db_table)}
    WHERE {m_org} = (SELECT %(org)s) AND {m_id} = ANY(%(add)s::bigint[])
), unknown AS (
    SELECT wanted AS id FROM unnest(%(add)s::bigint[]) AS wanted WHERE wanted NOT IN (SELECT id FROM found)
), ins AS (
    INSERT INTO {qn(link.db_table)} ({l_group}, {l_member}, {l_created})
    SELECT %(group)s, id, %(now)s FROM found WHERE NOT EXISTS (SELECT 1 FROM unknown)
    ON CONFLICT DO NOTHING RETURNING {l_member} AS id
), del AS (
    DELETE FROM {qn(link.db_table)}
    WHERE {l_group} = %(group)s AND {l_member} = ANY(%(remove)s::bigint[]) AND NOT EXISTS (SELECT 1 FROM unknown)
    RETURNING {l_member} AS id
), counts AS (
    SELECT (SELECT count(*) FROM {qn(link.db_table)} WHERE {l_group} = %(group)s) AS before,
           (SELECT count(*) FROM ins) AS added, (SELECT count(*) FROM del) AS removed
), touched AS (
    UPDATE {qn(group.db_table)} SET {col(group, "updated_at")} = %(now)s
    WHERE {col(group, "id")} = %(group)s AND (SELECT added + removed FROM counts) > 0
    RETURNING 1
), audited AS (
    INSERT INTO {qn(AuditEvent._meta.db_table)} ({audit_columns}, {before}, {after})
    SELECT {audit_values}, jsonb_build_object('members', before),
           jsonb_build_object('members', before + added - removed, 'added', {ids("ins")}, 'removed', {ids("del")})
    FROM counts WHERE added + removed > 0
    RETURNING 1
)
SELECT (SELECT array_agg(id ORDER BY id) FROM unknown), (SELECT array_agg(id) FROM ins),
       (SELECT array_agg(id) FROM del), (SELECT before FROM counts)
"""


def _array(ids: set[int]) -> str:
    """A PostgreSQL array literal of ints, sent as one text value: psycopg adapts a
    list element by element in Python, which cost more than the statement's
    own work for 100 ids. (ints only: nothing to quote.)"""
    return "{" + ",".join(str(int(i)) for i in sorted(ids)) + "}"


def write(group: ScimGroup, add: set[int], remove: set[int], *, now: datetime, audit: AuditEvent, id_limit: int) -> Diff:
    """Add and remove (disjoint sets) in one statement; `audit` is the unsaved
    entry to write (its before/after are filled in by the statement), `now` the
    group's new updated_at and the links' created_at. The group must be locked."""
    params = {"org": group.organization_id, "group": group.pk, "add": _array(add), "remove": _array(remove)}
    params["now"] = ScimGroup._meta.get_field("updated_at").get_db_prep_save(now, connection)
    for field in _AUDIT.fields:
        value = now if field.attname == "created_at" else getattr(audit, field.attname)
        params[f"a_{field.attname}"] = field.get_db_prep_save(value, connection)
    with connection.cursor() as cursor:
        cursor.execute(_sql(id_limit), params)
        unknown, added, removed, before = cursor.fetchone()
    return Diff(added=set(added or ()), removed=set(removed or ()), before=before, unknown=list(unknown or ()))
