"""What the sync did, kept beside the log: applied batches and exceptions, and the row states derived from them.

A row's state is never stored on the row. It is `staged` above its schema's applied horizon (the last `_seq` of
the latest batch in `ferry.log_batches`), `skipped` / `failed` when `ferry.log_exceptions` lists it, else `synced`.
These tables are written after the warehouse's commit; the warehouse's ledger is what they are rebuilt from.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import psycopg
from psycopg import sql

from ferry.schema.model import Schema
from ferry.staging.ddl import staging_table_name, table_ident

STATES = ("staged", "synced", "skipped", "failed")
_NO_ORDER = sql.SQL("")
_NAMESPACE = uuid.UUID("5f0e3c6a-1d7b-4e8a-9c2f-46455252594c")


def log_identity(conn: psycopg.Connection) -> uuid.UUID:
    """This staging database's own id (made by migration 0070)."""
    row = conn.execute("SELECT id FROM ferry.log_identity").fetchone()
    assert row is not None, "migration 0070 makes the identity row"
    return uuid.UUID(str(row[0]))


def batch_id(identity: uuid.UUID, schema_id: str, first_seq: int) -> str:
    """The batch starting at `first_seq`: the same id whoever computes it, before or after a crash."""
    return str(uuid.uuid5(_NAMESPACE, f"{identity}:{schema_id}:{int(first_seq)}"))


def applied_horizon(conn: psycopg.Connection, schema_id: str) -> int:
    """The last `_seq` applied for `schema_id` (0 before the first batch)."""
    row = conn.execute("SELECT last_seq FROM ferry.log_batches WHERE schema_id = %s ORDER BY first_seq DESC LIMIT 1",
                       (schema_id,)).fetchone()
    return int(row[0]) if row else 0


def run_state(conn: psycopg.Connection, schema_id: str) -> tuple[uuid.UUID, int, bool]:
    """What a sync run starts from, in one round trip: `log_identity`, `applied_horizon`, and whether the layout
    upgrade left legacy batches of the schema."""
    row = conn.execute(
        "SELECT (SELECT id FROM ferry.log_identity), (SELECT last_seq FROM ferry.log_batches WHERE schema_id = %s "
        "ORDER BY first_seq DESC LIMIT 1), EXISTS (SELECT 1 FROM ferry.log_legacy_batches WHERE schema_id = %s)",
        (schema_id, schema_id)).fetchone()
    assert row is not None and row[0] is not None, "migration 0070 makes the identity row"
    return uuid.UUID(str(row[0])), int(row[1]) if row[1] is not None else 0, bool(row[2])


def record_batch(conn: psycopg.Connection, schema: Schema, first_seq: int, last_seq: int, batch: str,
                 rows: int, skipped: Sequence[tuple[int, str]], failed: Sequence[tuple[int, str]],
                 uuids: dict[int, str] | None = None) -> None:
    """Write a batch applied in the warehouse and its exceptions, in one transaction; a repeat writes nothing.

    A failed row's columns are copied into its exception (`payload`), so it can be re-queued after retention.
    """
    found = [(int(seq), "skipped", reason) for seq, reason in skipped]
    found += [(int(seq), "failed", reason) for seq, reason in failed]
    known = uuids or {}
    with conn.transaction():
        cur = conn.execute(
            "INSERT INTO ferry.log_batches (schema_id, first_seq, last_seq, batch_id, row_count) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", (schema.id, first_seq, last_seq, batch, rows))
        if cur.rowcount == 0 or not found:
            return
        conn.execute(sql.SQL(
            "INSERT INTO ferry.log_exceptions (schema_id, seq, row_uuid, state, reason, batch_id, payload) "
            "SELECT %(schema)s, v.seq, coalesce(v.uuid, t._uuid), v.state, v.reason, %(batch)s, "
            "CASE WHEN v.state = 'failed' THEN to_jsonb(t) END "
            "FROM unnest(%(seqs)s::bigint[], %(states)s::text[], %(reasons)s::text[], %(uuids)s::uuid[]) "
            "AS v(seq, state, reason, uuid) LEFT JOIN {t} t ON t._seq = v.seq "
            "WHERE v.uuid IS NOT NULL OR t._uuid IS NOT NULL ON CONFLICT DO NOTHING").format(t=table_ident(schema)),
            {"schema": schema.id, "batch": batch, "seqs": [f[0] for f in found], "states": [f[1] for f in found],
             "reasons": [f[2] for f in found], "uuids": [known.get(f[0]) for f in found]})


def rows_query(schema: Schema, where: sql.Composable, order: sql.Composable = _NO_ORDER) -> sql.Composed:
    """`SELECT` the staging rows matching `where` (on alias `t`) with their derived `_state`, `_reason`,
    `_batch_id` and `_done_at`, as the old layout stored them."""
    return sql.SQL(
        "SELECT t.*, "
        "CASE WHEN t._seq > h.seq THEN 'staged' WHEN e.requeued_at IS NOT NULL THEN 'requeued' "
        "ELSE coalesce(e.state, 'synced') END AS _state, "
        "CASE WHEN t._seq <= h.seq THEN e.reason END AS _reason, "
        "b.batch_id AS _batch_id, "
        "CASE WHEN t._seq <= h.seq THEN coalesce(e.done_at, b.done_at) END AS _done_at "
        "FROM {t} t "
        "CROSS JOIN (SELECT coalesce((SELECT last_seq FROM ferry.log_batches WHERE schema_id = {s} "
        "ORDER BY first_seq DESC LIMIT 1), 0) AS seq) h "
        "LEFT JOIN ferry.log_exceptions e ON e.schema_id = {s} AND e.seq = t._seq AND t._seq <= h.seq "
        "LEFT JOIN LATERAL (SELECT lb.batch_id, lb.done_at FROM ferry.log_batches lb WHERE lb.schema_id = {s} "
        "AND lb.first_seq <= t._seq ORDER BY lb.first_seq DESC LIMIT 1) b ON t._seq <= h.seq "
        "WHERE {where} {order}"
    ).format(t=table_ident(schema), s=sql.Literal(schema.id), where=where, order=order)


def view_name(schema: Schema) -> str:
    """`ferry.rows_<table>`: the staging rows of `schema` with their derived state, for people and tools."""
    return f"rows_{staging_table_name(schema)}"


def view_statements(schema: Schema) -> list[sql.Composed]:
    """(Re)create the rows view of `schema` (its column list follows the table's, so it is made again on change)."""
    view = sql.Identifier("ferry", view_name(schema))
    return [sql.SQL("DROP VIEW IF EXISTS {}").format(view),
            sql.SQL("CREATE VIEW {} AS ").format(view) + rows_query(schema, sql.SQL("true"))]


def state_counts(conn: psycopg.Connection, schema: Schema) -> tuple[dict[str, int], dt.datetime | None]:
    """Rows per state and the reception time of the oldest row not yet applied."""
    applied = applied_horizon(conn, schema.id)
    counts = dict.fromkeys(STATES, 0)
    row = conn.execute(sql.SQL(
        "SELECT count(*) FILTER (WHERE _seq <= %(h)s), count(*) FILTER (WHERE _seq > %(h)s), "
        "min(_received_at) FILTER (WHERE _seq > %(h)s) FROM {}").format(table_ident(schema)), {"h": applied}
    ).fetchone()
    assert row is not None
    done, counts["staged"], oldest = int(row[0]), int(row[1]), row[2]
    # Exceptions of rows still in the table (retention may have dropped others with their partition).
    for state, requeued, count in conn.execute(sql.SQL(
            "SELECT e.state, e.requeued_at IS NOT NULL, count(*) FROM ferry.log_exceptions e "
            "WHERE e.schema_id = %s AND e.seq <= %s AND EXISTS (SELECT 1 FROM {} t WHERE t._seq = e.seq) "
            "GROUP BY 1, 2").format(table_ident(schema)), (schema.id, applied)):
        done -= int(count)
        if not requeued:
            counts[str(state)] += int(count)
    counts["synced"] = done
    return counts, oldest


def unsynced(conn: psycopg.Connection, schema: Schema) -> int:
    """Rows of `schema` not yet applied."""
    applied = applied_horizon(conn, schema.id)
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE _seq > %s").format(table_ident(schema)),
                       (applied,)).fetchone()
    return int(row[0]) if row else 0
