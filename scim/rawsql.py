"""Plain SQL for the few queries every SCIM request runs (the token lookup, the
user documents of lookups and pages). Django's ORM spends more time compiling
such a query than PostgreSQL takes to answer it, so these are built once from
the models' fields and read back with the converters the ORM would apply
(SQLite returns datetimes as text and JSON as strings, for instance)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, time
from functools import cached_property, lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, models


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


class Columns:
    """Some (or all) concrete fields of a model, as a SELECT list and a row reader."""

    def __init__(self, model: type[models.Model], names: Sequence[str] | None = None) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        if names is not None:
            by_name = {f.attname: f for f in fields} | {f.name: f for f in fields}
            fields = [by_name[n] for n in names]
        self.fields = list(fields)
        self.names = [f.attname for f in self.fields]
        self.table = model._meta.db_table

    def __len__(self) -> int:
        return len(self.fields)

    def column(self, name: str) -> str:
        return f"{qn(self.table)}.{qn(self.model._meta.get_field(name).column)}"

    @cached_property
    def select(self) -> str:
        return ", ".join(f"{qn(self.table)}.{qn(f.column)}" for f in self.fields)

    @cached_property
    def _converters(self) -> list[tuple[int, Any, list]]:
        out = []
        for k, f in enumerate(self.fields):
            col = f.get_col(self.table)
            funcs = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
            if funcs:
                out.append((k, col, funcs))
        return out

    def values(self, row: Sequence[Any], start: int = 0) -> list[Any]:
        """This model's values from `row[start:]`, converted as the ORM would."""
        values = list(row[start : start + len(self.fields)])
        converters = self._converters
        if converters:
            conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs a lookup per use
            for k, col, funcs in converters:
                for func in funcs:
                    values[k] = func(values[k], col, conn)
        return values

    def as_dict(self, row: Sequence[Any], start: int = 0) -> dict[str, Any]:
        return dict(zip(self.names, self.values(row, start)))

    def instance(self, row: Sequence[Any], start: int = 0) -> models.Model:
        return self.model.from_db(DEFAULT_DB_ALIAS, self.names, self.values(row, start))


def placeholders(n: int) -> str:
    """`%s, %s, …` for an IN list (portable: no `= ANY(%s)`, which SQLite lacks)."""
    return ", ".join(["%s"] * n)


def in_ids(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """A column's test for membership in `ids`, as SQL to follow the column and
    its parameters. On PostgreSQL one array parameter (`= ANY(%s::bigint[])`),
    elsewhere `IN (%s, …)`. With one parameter the statement's text is the same
    for 1 id or 500, and psycopg parses it once: it caches the parsing of no
    statement of more than 50 parameters, and parsing one of 100 ids cost
    0.35-0.8 ms of CPU a statement (benchmarks/README.md, "Where a mapped
    group PATCH's time was, where it went"). The array is sent as its text
    (`{1,2,3}`): psycopg dumps a list element by element in Python, five
    times the CPU of one string. Every value is made an integer first
    (ValueError if it is not one): a string such as "5,6" would otherwise
    put two ids in the array."""
    values = [int(i) for i in ids]
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return "= ANY(%s::bigint[])", ["{" + ",".join(map(str, values)) + "}"]
    return f"IN ({placeholders(len(values))})", values


def fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_read(sql: str, params: Sequence[Any], types: tuple[str, ...] | None = None) -> list[tuple]:
    """`fetch` for a read that starts a request's work (the SCIM reads): on a
    persistent connection it is itself the health check, instead of the
    `SELECT 1` that CONN_HEALTH_CHECKS sends before a request's first statement
    (a whole roundtrip, as much as the read). A connection the server dropped
    while idle fails the read, which is then run once more on a new connection,
    as after a failed health check. Inside a transaction nothing changes: the
    connection is in use, and a retry could not be.

    With `types` (the PostgreSQL types of the parameters, in order), the
    statement is a prepared one on PostgreSQL (`fetch_prepared`)."""
    run = fetch_prepared if types is not None and connections[DEFAULT_DB_ALIAS].vendor == "postgresql" else fetch
    args = (sql, params, types) if run is fetch_prepared else (sql, params)
    conn = connections[DEFAULT_DB_ALIAS]
    reused = conn.connection is not None and not conn.in_atomic_block and conn.health_check_enabled
    if not reused or conn.health_check_done:
        return run(*args)
    conn.health_check_done = True
    try:
        return run(*args)
    except (OperationalError, InterfaceError):
        conn.close()
        return run(*args)


# --- prepared statements ------------------------------------------------------------
# The reads every identity provider makes all day (scim.api.user_rows) are cheap to
# run and dear to plan: PostgreSQL spent more CPU parsing and planning the user
# statement (0.2-0.5 ms) than running it (0.1-0.3 ms). So each such statement is
# prepared once per connection with SQL's PREPARE, sent in the same roundtrip as its
# first EXECUTE, and then only EXECUTEd: PostgreSQL's plan cache keeps its
# generic plan (GENERIC_PLANS; tests/scim/api/test_lookup_plans.py and
# tests/scim/api/test_queries.py read it). SQL's PREPARE rather than
# the protocol's (psycopg's server-side binding) keeps every statement's text, as
# the query log and the tests see it, one PostgreSQL can EXPLAIN: `EXECUTE name(42,
# 'ada@example.com')`. A prepared statement lives as long as its connection (a
# rollback does not drop it); it needs a session of its own on the server, so a
# transaction-pooling proxy between Django and PostgreSQL (PgBouncer in transaction
# mode) would break it: the deployment (compose.yaml) connects directly.

# Set on a connection with its first prepared statement: PostgreSQL runs each one
# with its generic plan from the start, instead of planning it for its values on
# its first five runs and then for ever whenever the generic plan's estimate looks
# dearer (it did for a page of a large org: LIMIT's value unknown, it costs the
# generic plan for a tenth of the org, though the plan itself, an index-only
# scan of (organization, id), is the better one). Only these statements are
# prepared on the connection (Django prepares none), and the plan tests EXPLAIN
# every one of them with its generic plan.
GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"


@lru_cache(maxsize=64)
def _prepared(sql: str, types: tuple[str, ...]) -> tuple[str, str, str]:
    """(name, PREPARE statement, EXECUTE statement with %s placeholders)."""
    parts = sql.split("%s")
    if len(parts) - 1 != len(types):
        raise ValueError(f"{len(types)} parameter types for {len(parts) - 1} placeholders")
    numbered = parts[0] + "".join(f"${k}{part}" for k, part in enumerate(parts[1:], 1))
    name = "orgdesk_" + hashlib.sha256(f"{types}:{sql}".encode()).hexdigest()[:24]
    prepare = f"PREPARE {name} ({', '.join(types)}) AS {numbered}"
    return name, prepare, f"EXECUTE {name} ({placeholders(len(types))})"


def fetch_prepared(sql: str, params: Sequence[Any], types: tuple[str, ...]) -> list[tuple]:
    """`fetch` of `sql` (PostgreSQL only) as a statement prepared on this
    connection: one roundtrip either way, the first one carrying the PREPARE."""
    name, prepare, execute = _prepared(sql, types)
    conn = connections[DEFAULT_DB_ALIAS]
    with conn.cursor() as cursor:
        # What was prepared on this very DB-API connection (a new one has nothing):
        # name -> its EXECUTE, and name -> first runs tried.
        known = getattr(conn, "_orgdesk_prepared", None)
        session = ""
        if known is None or known[0] is not conn.connection:
            known = conn._orgdesk_prepared = (conn.connection, {}, {})
            session = f"{GENERIC_PLANS}; "
        ready = known[1].get(name)
        if ready is not None:
            cursor.execute(ready, params)
            return cursor.fetchall()
        # A first run that failed after its PREPARE (a cancelled EXECUTE) left the
        # name taken: a later try prepares under a name of its own.
        tries = known[2][name] = known[2].get(name, 0) + 1
        if tries > 1:
            as_name = f"{name}_{tries}"
            prepare, execute = prepare.replace(name, as_name, 1), execute.replace(name, as_name, 1)
        cursor.execute(f"{session}{prepare}; {execute}", params)
        known[1][name] = execute
        for _ in range(2 if session else 1):
            cursor.nextset()  # the EXECUTE's rows come after the SET's and PREPARE's (empty) results
        return cursor.fetchall()


# Values every backend takes as they are (get_db_prep_save returns them unchanged).
_PLAIN = frozenset({str, int, bool, type(None)})


@lru_cache(maxsize=128)
def _insert_sql(columns: Columns, rows: int) -> str:
    names = ", ".join(qn(f.column) for f in columns.fields)
    values = ", ".join([f"({placeholders(len(columns))})"] * rows)
    return f"INSERT INTO {qn(columns.table)} ({names}) VALUES {values}"


@lru_cache(maxsize=32)
def _insert_json_sql(columns: Columns) -> str:
    conn = connections[DEFAULT_DB_ALIAS]
    names = ", ".join(qn(f.column) for f in columns.fields)
    read = ", ".join(f"r.{qn(f.attname)}" for f in columns.fields)
    shape = ", ".join(f"{qn(f.attname)} {f.cast_db_type(conn)}" for f in columns.fields)
    return f"INSERT INTO {qn(columns.table)} ({names}) SELECT {read} FROM json_to_recordset(%s::json) AS r({shape})"


def _json_value(value: Any) -> Any:
    """A value json.dumps does not know, as PostgreSQL reads it back into its column."""
    if isinstance(value, (date, time)):  # datetime included
        return value.isoformat()  # every microsecond, and the offset
    raise TypeError(f"{type(value).__name__} has no JSON form for json_to_recordset")


def insert(columns: Columns, rows: Sequence[dict[str, Any]], *, durable: bool = True) -> None:
    """INSERT rows of `columns` in one statement (not returning ids); durable as in write().

    On PostgreSQL, rows as one JSON array parameter (`json_to_recordset`):
    with a parameter per value, psycopg parsed the statement's text again for
    every batch (it caches none of more than 50 parameters) and quoted each
    value in Python, 4.8 ms of CPU for the 100 rows of a batch of Provisioning
    activity, against 1 ms for json.dumps and one string."""
    if not rows:
        return
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor == "postgresql" and len(rows) > 1:  # one row: the VALUES statement, parsed once
        data = json.dumps([{f.attname: row[f.attname] for f in columns.fields} for row in rows], default=_json_value)
        write(_insert_json_sql(columns), [data], durable=durable)
        return
    params = [_db_value(field, row[field.attname], conn) for row in rows for field in columns.fields]
    write(_insert_sql(columns, len(rows)), params, durable=durable)


def _db_value(field, value: Any, conn) -> Any:
    """What the ORM would send for `value` of `field`."""
    return value if type(value) in _PLAIN else field.get_db_prep_save(value, conn)


def write(sql: str, params: Sequence[Any], *, durable: bool = True) -> None:
    """Run one writing statement. durable=False, outside a transaction on
    PostgreSQL, commits it asynchronously (synchronous_commit off for this one
    transaction): for rows a crash may lose, never for data."""
    conn = connections[DEFAULT_DB_ALIAS]
    asynchronous = not durable and conn.vendor == "postgresql" and not conn.in_atomic_block
    if asynchronous:
        sql = f"BEGIN; SET LOCAL synchronous_commit TO OFF; {sql}; COMMIT"
    with conn.cursor() as cursor:
        try:
            cursor.execute(sql, params)
        except Exception:
            if asynchronous:  # never leave the connection inside the failed BEGIN
                cursor.execute("ROLLBACK")
            raise


# --- one change and the rows that go with it, in one statement -------------------

RETURNED_ID = object()  # a rider's value: the primary key the change wrote


class Riders:
    """Rows to write with a change (its audit entry, the call's activity entry,
    the e-mails of a membership): see `write_with`. `written` tells afterwards
    whether they were, which is whether the change wrote a row."""

    def __init__(self) -> None:
        self.inserts: list[tuple[Columns, list[dict[str, Any]]]] = []
        self.deletes: list[tuple[Columns, str, Any]] = []
        self.written = False

    def insert(self, columns: Columns, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.inserts.append((columns, list(rows)))

    def delete(self, columns: Columns, name: str, value: Any) -> None:
        """DELETE the rows of `columns`' table whose `name` is `value` (rows the
        same statement inserts are not among them: it sees the table as it was)."""
        self.deletes.append((columns, name, value))

    def __bool__(self) -> bool:
        return bool(self.inserts or self.deletes)


def _cast(field, conn) -> str:
    """The type a rider's value is cast to (a UNION's branches are typed before
    the columns they fill are known). Text, not varchar(n): an explicit cast to
    varchar(n) would cut a long value where storing it must fail."""
    return "text" if isinstance(field, models.CharField) else field.cast_db_type(conn)


@lru_cache(maxsize=256)
def _rider_insert_sql(columns: Columns, shape: tuple[tuple[bool, ...], ...], key: str) -> str:
    """INSERT of rows whose fields are parameters, or the key the change
    returned where `shape` says so (one tuple per row, one flag per field)."""
    conn = connections[DEFAULT_DB_ALIAS]
    casts = [_cast(f, conn) for f in columns.fields]
    selects = [
        "SELECT " + ", ".join(f"CAST(w.{qn(key)} AS {cast})" if returned else f"CAST(%s AS {cast})"
                              for returned, cast in zip(row, casts)) + " FROM w"
        for row in shape
    ]
    names = ", ".join(qn(f.column) for f in columns.fields)
    return f"INSERT INTO {qn(columns.table)} ({names}) {' UNION ALL '.join(selects)}"


@lru_cache(maxsize=64)
def _rider_delete_sql(columns: Columns, name: str, *, in_with: bool = True) -> str:
    """DELETE by one column's value; in a data-modifying WITH, only if the change wrote its row."""
    column = qn(columns.model._meta.get_field(name).column)
    return f"DELETE FROM {qn(columns.table)} WHERE {column} = %s" + (" AND EXISTS (SELECT 1 FROM w)" if in_with else "")


def write_with(sql: str, params: Sequence[Any], riders: Riders, *, key: str = "id") -> list[tuple]:
    """Run `sql`, one INSERT or UPDATE of one row ending in `RETURNING <key>,
    ...` (its primary key's column), and write `riders` with it, only if it
    wrote its row. Returns the rows it returned.

    On PostgreSQL that is one statement, one round trip (data-modifying WITH:
    every part sees the tables as they were before it and commits or fails with
    the rest); a rider's value RETURNED_ID is the key the change returned.
    Elsewhere (SQLite has no data-modifying WITH) the riders are written one
    statement each after it, in the caller's transaction."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            returned = cursor.fetchall()
        if returned and riders:
            written_key = returned[0][0]
            for columns, name, value in riders.deletes:
                write(_rider_delete_sql(columns, name, in_with=False), [value])
            for columns, rows in riders.inserts:
                insert(columns, [{k: written_key if v is RETURNED_ID else v for k, v in row.items()} for row in rows])
            riders.written = True
        return returned
    parts, all_params = [f"w AS ({sql})"], list(params)
    for columns, name, value in riders.deletes:
        parts.append(f"r{len(parts)} AS ({_rider_delete_sql(columns, name)})")
        all_params.append(value)
    for columns, rows in riders.inserts:
        shape = tuple(tuple(row[f.attname] is RETURNED_ID for f in columns.fields) for row in rows)
        all_params += [
            _db_value(f, row[f.attname], conn) for row in rows for f in columns.fields if row[f.attname] is not RETURNED_ID
        ]
        parts.append(f"r{len(parts)} AS ({_rider_insert_sql(columns, shape, key)})")
    with conn.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT * FROM w", all_params)
        returned = cursor.fetchall()
    riders.written = bool(returned) and bool(riders)
    return returned
