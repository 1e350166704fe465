"""The write path of staging and the reads of its state: requests, rows, counts."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ferry.ingest.operations import Call
from ferry.schema.model import Schema
from ferry.schema.registry import SchemaRegistry
from ferry.staging import idempotency, outcomes
from ferry.staging.copy_rows import RowEncoder, text_array
from ferry.staging.ddl import COPY_TYPES, STAGING_SCHEMA, staging_table_name, table_ident

_ROW_HEAD = ("_uuid", "_request_id", "_op", "_key", "_present")
_ROW_HEAD_TYPES = ("uuid", "uuid", "text", "text[]", "text[]")
STATES = outcomes.STATES
_Row = TypeVar("_Row")


@dataclass(frozen=True)
class SchemaStatus:
    """Row counts per state of one staged schema and the age of its oldest unsynced row."""

    schema_id: str
    counts: dict[str, int]
    oldest_unsynced: dt.datetime | None

    @property
    def lag_seconds(self) -> float:
        """Seconds since the oldest unsynced row was received (0 when none)."""
        if self.oldest_unsynced is None:
            return 0.0
        return max(0.0, (dt.datetime.now(dt.UTC) - self.oldest_unsynced).total_seconds())


class StagingStore:
    """Stages accepted calls and answers questions about what was staged."""

    def __init__(self, pool: ConnectionPool, registry: SchemaRegistry) -> None:
        self._pool = pool
        self.registry = registry

    def stage(self, calls: Sequence[Call]) -> None:
        """Write every call in one transaction (one COPY per schema): all are durable, or none."""
        if not calls:
            return
        with self._pool.connection() as conn, conn.transaction():
            write_calls(conn, self.registry, calls)

    def status(self) -> list[SchemaStatus]:
        """Counts per state for every staged schema."""
        result = []
        with self._pool.connection() as conn:
            for schema in self.registry.staged():
                result.append(schema_status(conn, schema))
        return result

    def record(self, row_uuid: uuid.UUID) -> dict[str, Any] | None:
        """The staged row with this UUID, from whichever staged schema holds it."""
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            for schema in self.registry.staged():
                # The newest row of this UUID: a re-queued row is a new row with its UUID.
                query = outcomes.rows_query(schema, sql.SQL("t._uuid = %s"),
                                            sql.SQL("ORDER BY t._seq DESC LIMIT 1"))
                row = cur.execute(query, (row_uuid,)).fetchone()
                if row is not None:
                    return _public_row(schema, row)
        return None

    def request(self, request_id: uuid.UUID, *, limit: int | None = None, offset: int = 0) -> dict[str, Any] | None:
        """A call and the state of each of its rows, in document order; or, when `request_id` names a script run
        (`ferry.requests.run_id`), every call of the run, in commit order (see `run_head`).

        `limit` / `offset`: one page of those records (`offset` counts the records as sent, call after call); only
        the calls the page reaches are read. Each row carries its `position` in its own call's document."""
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            head = cur.execute("SELECT * FROM ferry.requests WHERE id = %s", (request_id,)).fetchone()
            calls = [head] if head is not None else run_calls(cur, request_id)
            if not calls:
                return None
            reached, skip = calls_in_page(calls, limit, offset)
            rows: list[dict[str, Any]] = []
            for schema_id, ids in calls_by_schema(reached):
                schema = self.registry.get(schema_id)
                if schema is None or not schema.staged:
                    continue
                query = outcomes.rows_query(schema, sql.SQL("t._request_id = ANY(%s)"), sql.SQL("ORDER BY t._seq"))
                rows += [_public_row(schema, row) for row in current_rows(cur.execute(query, (ids,)))]
        ordered = in_call_order(reached, rows, lambda row: row["request_id"]) if head is None else rows
        positions: dict[Any, int] = {}
        for row in ordered:
            positions[row["request_id"]] = row["position"] = positions.get(row["request_id"], 0) + 1
        page = ordered[skip:] if limit is None else ordered[skip:skip + limit]
        if head is not None:
            return {**head, "records": page}
        return {**run_head(request_id, calls), "records": page}


def calls_in_page(calls: Sequence[dict[str, Any]], limit: int | None, offset: int
                  ) -> tuple[list[dict[str, Any]], int]:
    """The calls holding records `offset` to `offset + limit` (by their `record_count`, in order), and how many
    records of the first of them come before the page."""
    if limit is None and offset <= 0:
        return list(calls), 0
    reached: list[dict[str, Any]] = []
    skip, start = 0, 0
    end = None if limit is None else offset + limit
    for call in calls:
        count = int(call["record_count"])
        if start + count > offset and (end is None or start < end):
            if not reached:
                skip = max(0, offset - start)
            reached.append(call)
        start += count
    return reached, skip


def run_calls(cur: psycopg.Cursor[dict[str, Any]], run_id: uuid.UUID) -> list[dict[str, Any]]:
    """The calls a script run staged (`ferry.requests` rows with this `run_id`), in commit order."""
    # One script stages one call at a time, each committed before the next starts: received_at orders them.
    return cur.execute("SELECT * FROM ferry.requests WHERE run_id = %s ORDER BY received_at, id", (run_id,)).fetchall()


def calls_by_schema(calls: Sequence[dict[str, Any]]) -> list[tuple[str, list[uuid.UUID]]]:
    """The request ids of `calls` grouped by schema, schemas in order of first appearance."""
    grouped: dict[str, list[uuid.UUID]] = {}
    for call in calls:
        grouped.setdefault(call["schema_id"], []).append(call["id"])
    return list(grouped.items())


def run_head(run_id: uuid.UUID, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A script run shown as one request: its id, the calls' schema and method (comma-separated when they differ),
    operator, origin `js`, first call's time, and the records of all its calls."""
    schemas = list(dict.fromkeys(call["schema_id"] for call in calls))
    methods = list(dict.fromkeys(call["method"] for call in calls))
    return {"id": run_id, "schema_id": ",".join(schemas), "method": ",".join(methods),
            "operator": calls[0]["operator"], "origin": "js", "received_at": calls[0]["received_at"],
            "record_count": sum(int(call["record_count"]) for call in calls), "run_id": run_id,
            "calls": [call["id"] for call in calls]}


def in_call_order(calls: Sequence[dict[str, Any]], rows: list[_Row], request_id: Callable[[_Row], Any]) -> list[_Row]:
    """`rows` (each call's rows in document order, schema after schema) ordered call after call."""
    position = {str(call["id"]): index for index, call in enumerate(calls)}
    return sorted(rows, key=lambda row: position.get(str(request_id(row)), len(position)))


class SessionNotValid(Exception):
    """A call's session was revoked or expired when its write ran: nothing of the write is kept."""


def write_calls(conn: psycopg.Connection, registry: SchemaRegistry, calls: Sequence[Call],
                keys: Sequence[Sequence[Any]] = (), sessions: Sequence[bytes | None] = ()) -> None:
    """Insert the requests and COPY their rows, inside the caller's transaction; `keys`: idempotency rows.

    `sessions` (one per call, or empty): a call's session hash, checked valid in staging first (SessionNotValid)."""
    wanted = [session for session in sessions if session is not None]
    if wanted:
        valid = valid_sessions(conn, wanted)
        if any(session not in valid for session in wanted):
            raise SessionNotValid("a session was revoked or expired")
    if keys:
        with conn.cursor() as cur:
            cur.executemany(idempotency.INSERT + "(%s, %s, %s, %s, %s, %s)", keys)
    with conn.cursor() as cur, cur.copy(
        "COPY ferry.requests (id, schema_id, method, operator, origin, record_count, run_id) FROM STDIN"
    ) as copy:
        for call in calls:
            copy.write_row((call.request_id, call.schema_id, call.method.value, call.operator, call.origin,
                            len(call.operations), call.run_id))
    by_schema: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        by_schema[call.schema_id].append(call)
    for schema_id, schema_calls in by_schema.items():
        schema = registry.get(schema_id)
        if schema is None or not schema.staged:
            raise LookupError(f"schema {schema_id} is not staged in this registry")
        _copy_rows(conn, schema, schema_calls)


def insert_calls(conn: psycopg.Connection, registry: SchemaRegistry, calls: Sequence[Call],
                 keys: Sequence[Sequence[Any]] = (), sessions: Sequence[bytes | None] = ()) -> bool:
    """Stage a few small calls with one INSERT statement (requests and rows), committed on its own.

    One round trip instead of BEGIN, two COPYs and COMMIT: what a group of unitary calls costs most. `conn` must be
    idle (no transaction open). Returns False, writing nothing, when the calls are too big for one statement.
    A call's session (`sessions`) no longer valid fails the statement: `session_refused` tells that error.
    """
    found = insert_statement(registry, calls, keys, sessions)
    if found is None:
        return False
    previous = conn.autocommit
    conn.autocommit = True
    try:
        # Native $n placeholders: psycopg does not re-parse a long statement for %s on every call.
        with psycopg.RawCursor(conn) as cur:
            cur.execute(*found)
    finally:
        conn.autocommit = previous
    return True


def insert_statement(registry: SchemaRegistry, calls: Sequence[Call], keys: Sequence[Sequence[Any]] = (),
                     sessions: Sequence[bytes | None] = ()) -> tuple[bytes, list[Any]] | None:
    """The one statement staging `calls` (idempotency rows `keys`, requests, then rows per schema) with its `$n`
    parameters.

    Run it alone (autocommit): data-modifying CTEs make one statement, so one transaction; rows keep document order
    within a table. None when the calls need more parameters than one statement should carry. A call with a
    session hash in `sessions` gets its request id only while that session is valid in staging: a revoked or
    expired one makes the id NULL, which fails the whole statement (the session check costs no round trip).
    """
    by_schema: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        by_schema[call.schema_id].append(call)
    layouts = []
    placeholders = len(calls) * len(_REQUEST_COLUMNS) + len(keys) * len(idempotency.COLUMNS) \
        + sum(1 for session in sessions if session is not None)
    for schema_id, schema_calls in by_schema.items():
        schema = registry.get(schema_id)
        if schema is None or not schema.staged:
            raise LookupError(f"schema {schema_id} is not staged in this registry")
        layout = _layout(schema)
        placeholders += sum(len(call.operations) for call in schema_calls) * layout.width
        layouts.append((layout, schema_calls))
    if placeholders > _MAX_PLACEHOLDERS:
        return None
    params: list[Any] = []
    parts = []
    if keys:
        for row in keys:
            params += row
        parts.append(idempotency.INSERT + _values(1, len(keys), idempotency.CASTS))
    first = len(params) + 1
    guarded = tuple(session is not None for session in sessions) if any(sessions) else ()
    for index, call in enumerate(calls):
        params += (call.request_id, call.schema_id, call.method.value, call.operator, call.origin,
                   len(call.operations), call.run_id)
        if guarded and guarded[index]:
            params.append(sessions[index])
    if guarded:
        parts.append(_INSERT_REQUESTS + _guarded_values(first, guarded))
    else:
        parts.append(_INSERT_REQUESTS + _values(first, len(calls), ("",) * len(_REQUEST_COLUMNS)))
    for layout, schema_calls in layouts:
        first = len(params) + 1
        for call in schema_calls:
            params += _row_params(layout.names, call)
        parts.append(layout.insert + _values(first, sum(len(call.operations) for call in schema_calls), layout.casts))
    statement = "WITH " + ", ".join(f"_w{index} AS ({part})" for index, part in enumerate(parts[:-1])) + " " \
        + parts[-1]
    return statement.encode(), params


_REQUEST_COLUMNS = ("id", "schema_id", "method", "operator", "origin", "record_count", "run_id")
_INSERT_REQUESTS = "INSERT INTO ferry.requests (id, schema_id, method, operator, origin, record_count, run_id) VALUES "
_VALID_SESSIONS = ("SELECT session_hash FROM ferry.sessions WHERE session_hash = ANY(%s) AND revoked_at IS NULL "
                   "AND expires_at > now()")
# The request id of a call whose session is still valid, else NULL (ferry.requests.id is the primary key).
_GUARDED_ID = ("(SELECT ${id}::uuid FROM ferry.sessions WHERE session_hash = ${session}::bytea "
               "AND revoked_at IS NULL AND expires_at > now())")


def valid_sessions(conn: psycopg.Connection, hashes: Sequence[bytes]) -> set[bytes]:
    """The session hashes of `hashes` neither revoked nor expired in staging."""
    return {bytes(row[0]) for row in conn.execute(_VALID_SESSIONS, (list(hashes),)).fetchall()}


def session_refused(exc: BaseException) -> bool:
    """True when a failed write failed on a session check (`insert_calls` / `write_calls` with `sessions`)."""
    if isinstance(exc, SessionNotValid):
        return True
    diag = getattr(exc, "diag", None)
    return (isinstance(exc, psycopg.errors.NotNullViolation) and diag is not None
            and diag.table_name == "requests" and diag.column_name == "id")


@functools.lru_cache(maxsize=256)
def _guarded_values(first: int, guarded: tuple[bool, ...]) -> str:
    """The requests' VALUES tuples from `$first` on, a guarded call's id behind its session check (its session
    hash is the parameter after its 7 request columns)."""
    width = len(_REQUEST_COLUMNS)
    tuples = []
    number = first
    for guard in guarded:
        cells = [f"${number + column}" for column in range(width)]
        if guard:
            cells[0] = _GUARDED_ID.format(id=number, session=number + width)
        tuples.append("(" + ", ".join(cells) + ")")
        number += width + (1 if guard else 0)
    return ", ".join(tuples)
# PostgreSQL takes at most 65,535 parameters per statement; bigger groups go through COPY.
_MAX_PLACEHOLDERS = 30_000


@dataclass(frozen=True)
class _Layout:
    """A staged schema's row layout for the write path, computed once per schema object."""

    schema: Schema
    names: tuple[str, ...]
    copy: bytes
    types: tuple[str, ...]
    insert: str
    casts: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.casts)


_LAYOUTS: dict[str, _Layout] = {}


def _layout(schema: Schema) -> _Layout:
    found = _LAYOUTS.get(schema.id)
    if found is not None and found.schema is schema:
        return found
    names = schema.attribute_names
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in (*_ROW_HEAD, *names))
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table_ident(schema), columns)
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ").format(table_ident(schema), columns)
    types = (*_ROW_HEAD_TYPES, *(COPY_TYPES[attr.type] for attr in schema.attributes))
    layout = _Layout(schema=schema, names=names, copy=copy.as_bytes(), types=types, insert=insert.as_string(),
                     casts=(*(f"::{name}" for name in _ROW_HEAD_TYPES), *("" for _ in names)))
    _LAYOUTS[schema.id] = layout
    return layout


@functools.lru_cache(maxsize=512)
def _values(first: int, rows: int, casts: tuple[str, ...]) -> str:
    """`($first, $first+1, ...), (...)`: `rows` tuples of `len(casts)` numbered placeholders."""
    width = len(casts)
    return ", ".join(
        "(" + ", ".join(f"${first + row * width + column}{cast}" for column, cast in enumerate(casts)) + ")"
        for row in range(rows)
    )


def _row_params(names: tuple[str, ...], call: Call) -> list[Any]:
    params: list[Any] = []
    request_id = call.request_id
    for op in call.operations:
        values = op.values
        params += (op.uuid, request_id, op.op.value, list(op.key) if op.key is not None else None, list(values))
        params += [values.get(name) for name in names]
    return params


def _copy_rows(conn: psycopg.Connection, schema: Schema, calls: Sequence[Call]) -> None:
    layout = _layout(schema)
    if conn.info.encoding == "utf-8":
        # The rows encoded here in one buffer (the common case: staging databases are UTF-8).
        encoder = RowEncoder(conn, layout.names, layout.types[len(_ROW_HEAD):])
        with conn.cursor() as cur, cur.copy(layout.copy) as copy:
            copy.write(encoder.encode(calls))
        return
    _write_rows(conn, layout, calls)


def _write_rows(conn: psycopg.Connection, layout: _Layout, calls: Sequence[Call]) -> None:
    """The rows of `calls` through psycopg's `write_row` (a connection in another client encoding than UTF-8)."""
    head = len(_ROW_HEAD)
    blank: list[Any] = [None] * (head + len(layout.names))
    position = {name: head + index for index, name in enumerate(layout.names)}
    # _key and _present repeat from row to row: each distinct list is encoded once, in PostgreSQL's binary array
    # format, and sent as is (the column's own type, text[], reads it on the server).
    arrays: dict[tuple[str, ...], bytes] = {}
    with conn.cursor() as cur, cur.copy(layout.copy) as copy:
        copy.set_types([*_ROW_HEAD_TYPES[:3], "bytea", "bytea", *layout.types[head:]])
        for call in calls:
            request_id = call.request_id
            for op in call.operations:
                values = op.values
                row = blank.copy()
                present = tuple(values)
                row[0], row[1], row[2] = op.uuid, request_id, op.op.value
                row[3] = None if op.key is None else arrays.get(op.key) or arrays.setdefault(op.key, text_array(op.key))
                row[4] = arrays.get(present) or arrays.setdefault(present, text_array(present))
                for name, value in values.items():
                    index = position.get(name)
                    if index is not None:
                        row[index] = value
                copy.write_row(row)


def schema_status(conn: psycopg.Connection, schema: Schema) -> SchemaStatus:
    """Counts per (derived) state of one staged schema."""
    counts, oldest = outcomes.state_counts(conn, schema)
    return SchemaStatus(schema_id=schema.id, counts=counts, oldest_unsynced=oldest)


def current_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (from `outcomes.rows_query`, in `_seq` order) without the ones a re-queue replaced, each at the place
    of the row it replaced (a call's rows keep their document order)."""
    listed = list(rows)
    newest: dict[Any, dict[str, Any]] = {}
    for row in listed:
        newest[row["_uuid"]] = row
    out: list[dict[str, Any]] = []
    for row in listed:
        latest = newest.pop(row["_uuid"], None)
        if latest is not None:
            out.append(latest)
    return out


def _public_row(schema: Schema, row: dict[str, Any]) -> dict[str, Any]:
    present = row["_present"] or []
    return {
        "uuid": row["_uuid"],
        "schema": schema.id,
        "request_id": row["_request_id"],
        "sequence": row["_seq"],
        "operation": row["_op"],
        "key": row["_key"],
        "state": row["_state"],
        "reason": row["_reason"],
        "batch_id": row["_batch_id"],
        "received_at": row["_received_at"],
        "done_at": row["_done_at"],
        "values": {name: row[name] for name in present if name in row},
    }


def staging_table(schema: Schema) -> str:
    """The qualified staging table name, for messages and docs."""
    return f"{STAGING_SCHEMA}.{staging_table_name(schema)}"
