"""Converting staging tables of the old layout (per-row `_state`, migrations 0001-0060) into the log, on start.

Every row is kept. Rows that ended `synced` / `skipped` / `failed` keep their `_seq`, and the schema's applied
horizon becomes the highest old `_seq`; skipped and failed rows become exceptions with their reason. Rows still
`staged` get new `_seq` values above it, in the order the old sync would have applied them: batches it claimed
first (in claim order), then the others by `_seq`. An old-layout row could be staged below synced ones (a call
that committed late), so keeping its `_seq` would hide it under the horizon. Claimed batches are kept in
`ferry.log_legacy_batches`; the first sync asks the warehouse's ledger about them (`resolve_legacy`).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from ferry.schema.loader import parse_schema
from ferry.schema.model import Schema
from ferry.schema.staging import with_internal_id
from ferry.staging import outcomes, partitions
from ferry.staging.ddl import LEGACY_COLUMNS, STAGING_SCHEMA, sequence_name, staging_table_name
from ferry.staging.migrations import _LOCK_ID

log = logging.getLogger(__name__)


def upgrade_layout(conn: psycopg.Connection) -> list[str]:
    """Convert every old-layout staging table, each in its own transaction; returns the schema ids converted."""
    done: list[str] = []
    rows = conn.execute("SELECT id, source_xml FROM ferry.schemas WHERE staged ORDER BY id").fetchall()
    for schema_id, xml in rows:
        schema = with_internal_id(parse_schema(xml, origin=f"stored schema {schema_id}"))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            if _is_legacy(conn, staging_table_name(schema)):
                _convert(conn, schema)
                done.append(schema.id)
    if done:
        log.info("staging tables converted to the log layout: %s", ", ".join(done))
    return done


def _is_legacy(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = %s "
                       "AND table_name = %s AND column_name = '_state'", (STAGING_SCHEMA, table)).fetchone()
    return bool(row and row[0])


def _convert(conn: psycopg.Connection, schema: Schema) -> None:
    name = staging_table_name(schema)
    table = sql.Identifier(STAGING_SCHEMA, name)
    sequence = sql.Identifier(STAGING_SCHEMA, sequence_name(schema))
    params: dict[str, object] = {"s": schema.id}
    row = conn.execute(sql.SQL("SELECT coalesce(max(_seq), 0), count(*) FILTER (WHERE _state <> 'staged') "
                               "FROM {}").format(table)).fetchone()
    assert row is not None
    top, done = int(row[0]), int(row[1])
    params["top"] = top
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE __ferry_moves ON COMMIT DROP AS SELECT t._seq AS old_seq, "
        "%(top)s + row_number() OVER (ORDER BY b.first_seq NULLS LAST, t._seq) AS new_seq, b.batch_id AS claimed "
        "FROM {t} t LEFT JOIN ferry.sync_batches b ON b.batch_id = t._batch_id AND b.schema_id = %(s)s "
        "WHERE t._state = 'staged'").format(t=table), params)
    conn.execute(sql.SQL(
        "INSERT INTO ferry.log_exceptions (schema_id, seq, row_uuid, state, reason, batch_id, done_at, payload) "
        "SELECT %(s)s, _seq, _uuid, _state, coalesce(_reason, ''), _batch_id, coalesce(_done_at, now()), "
        "CASE WHEN _state = 'failed' THEN to_jsonb(t) - {legacy} END FROM {t} t "
        "WHERE _state IN ('skipped', 'failed') ON CONFLICT DO NOTHING").format(
            t=table, legacy=sql.Literal(list(LEGACY_COLUMNS)) + sql.SQL("::text[]")), params)
    if top > 0:
        conn.execute("INSERT INTO ferry.log_batches (schema_id, first_seq, last_seq, batch_id, row_count) "
                     "VALUES (%(s)s, 1, %(top)s, NULL, %(done)s) ON CONFLICT DO NOTHING", {**params, "done": done})
    conn.execute(
        "INSERT INTO ferry.log_legacy_batches (schema_id, batch_id, first_seq, last_seq, seq_map) "
        "SELECT %(s)s, claimed, min(new_seq), max(new_seq), jsonb_object_agg(old_seq::text, new_seq) "
        "FROM __ferry_moves WHERE claimed IS NOT NULL GROUP BY claimed", params)
    conn.execute("DELETE FROM ferry.sync_batches WHERE schema_id = %(s)s", params)
    # `_seq` from an owned CACHE 1 sequence (the horizon reads it), no longer an identity.
    conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN _seq DROP IDENTITY IF EXISTS").format(table))
    moved = conn.execute("SELECT count(*) FROM __ferry_moves").fetchone()
    last = top + (int(moved[0]) if moved else 0)
    conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS bigint CACHE 1").format(sequence))
    conn.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY {}._seq").format(sequence, table))
    conn.execute("SELECT setval(%s::regclass, %s, %s)",
                 (f"{STAGING_SCHEMA}.{sequence_name(schema)}", max(last, 1), last > 0))
    conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN _seq SET DEFAULT nextval({}::regclass)").format(
        table, sql.Literal(f"{STAGING_SCHEMA}.{sequence_name(schema)}")))
    conn.execute(sql.SQL("UPDATE {} t SET _seq = m.new_seq FROM __ferry_moves m WHERE t._seq = m.old_seq").format(
        table))
    for (constraint,) in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                                      "AND contype = 'u'", (f"{STAGING_SCHEMA}.{name}",)).fetchall():
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(constraint)))
    for index in (f"{name}_pending", f"{name}_done", f"{name}_batch"):
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, index)))
    conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier("ferry", outcomes.view_name(schema))))
    for column in LEGACY_COLUMNS:
        conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(table, sql.Identifier(column)))
    conn.execute(sql.SQL("ALTER TABLE {} RESET (fillfactor)").format(table))
    conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_uuid)").format(sql.Identifier(f"{name}_uuid"), table))
    partitions.attach_legacy(conn, schema, last)
    partitions.ensure(conn, schema)
    for statement in outcomes.view_statements(schema):
        conn.execute(statement)
    conn.execute("DROP TABLE __ferry_moves")


def legacy_batches(conn: psycopg.Connection, schema_id: str) -> list[tuple[str, int, int, dict[int, int]]]:
    """Batches claimed by the old layout and not yet resolved: (old batch id, first, last new `_seq`, old → new)."""
    rows = conn.execute("SELECT batch_id, first_seq, last_seq, seq_map FROM ferry.log_legacy_batches "
                        "WHERE schema_id = %s ORDER BY first_seq", (schema_id,)).fetchall()
    return [(str(b), int(f), int(t), {int(k): int(v) for k, v in m.items()}) for b, f, t, m in rows]


def forget_legacy(conn: psycopg.Connection, schema_id: str, *, all_of_them: bool, upto: int = 0) -> None:
    """Drop resolved legacy batches: those ending at or below `upto`, or every one."""
    conn.execute("DELETE FROM ferry.log_legacy_batches WHERE schema_id = %s AND (%s OR last_seq <= %s)",
                 (schema_id, all_of_them, upto))
