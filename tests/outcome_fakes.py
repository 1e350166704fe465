"""Recording a staged row's outcome the way the sync does (a batch up to the row, its exception), for tests of the
status and console pages that need a row in a given state without a warehouse."""

from __future__ import annotations

import psycopg

from ferry.schema.model import Schema
from ferry.staging import outcomes
from ferry.staging.ddl import table_ident


def record_outcome(url: str, schema: Schema, row_uuid: str, state: str, reason: str | None = None) -> None:
    """Apply every row up to `row_uuid` (a batch ending there) and record `state` for it; rows before it that are
    still staged end `synced`."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(psycopg.sql.SQL("SELECT max(_seq) FROM {} WHERE _uuid = %s").format(table_ident(schema)),
                           (row_uuid,)).fetchone()
        assert row is not None and row[0] is not None, f"no staged row {row_uuid}"
        seq = int(row[0])
        applied = outcomes.applied_horizon(conn, schema.id)
        exceptions = [(seq, reason or "")] if state in ("skipped", "failed") else []
        if seq > applied:
            first = applied + 1
            batch = outcomes.batch_id(outcomes.log_identity(conn), schema.id, first)
            outcomes.record_batch(conn, schema, first, seq, batch, seq - applied,
                                  exceptions if state == "skipped" else [], exceptions if state == "failed" else [])
        elif exceptions:
            conn.execute("INSERT INTO ferry.log_exceptions (schema_id, seq, row_uuid, state, reason) "
                         "VALUES (%s, %s, %s, %s, %s)", (schema.id, seq, row_uuid, state, reason or ""))
