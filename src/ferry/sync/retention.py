"""Retention of the staging log (`ferryPurgeStagingData`): whole partitions dropped, never a row deleted.

A partition goes once every row in it is applied (its upper bound is at or below the applied horizon) and the batch
holding its last row was applied longer ago than the retention: age and the applied horizon alone. A failed row
never holds its partition back (at any realistic failure rate no partition would ever go): its columns live in its
exception (`payload`), where re-queue and discard read them once the partition is gone.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ferry.schema.model import Schema
from ferry.staging import outcomes, partitions
from ferry.staging.ddl import STAGING_SCHEMA, table_ident


def droppable(conn: psycopg.Connection, schema: Schema, retention_days: float) -> list[tuple[str, int, int]]:
    """The partitions retention may drop now, lowest first."""
    applied = outcomes.applied_horizon(conn, schema.id)
    found = []
    for name, low, high in partitions.partitions(conn, schema):
        if high - 1 > applied:
            break
        row = conn.execute(
            "SELECT done_at < now() - make_interval(secs => %(age)s) FROM ferry.log_batches "
            "WHERE schema_id = %(s)s AND first_seq <= %(last)s ORDER BY first_seq DESC LIMIT 1",
            {"age": retention_days * 86_400.0, "s": schema.id, "last": high - 1}).fetchone()
        if row is not None and bool(row[0]):
            found.append((name, low, high))
    return found


def purge(conn: psycopg.Connection, schema: Schema, retention_days: float) -> int:
    """Drop the partitions retention allows (and the exceptions nobody needs any more); returns the rows dropped."""
    partitions.ensure(conn, schema)
    total = 0
    for name, low, high in droppable(conn, schema, retention_days):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGING_SCHEMA, name))).fetchone()
        partitions.drop(conn, schema, name)
        # Skipped rows' reasons go with them; failed rows keep their exception (payload, discard history).
        conn.execute("DELETE FROM ferry.log_exceptions WHERE schema_id = %s AND seq >= %s AND seq < %s "
                     "AND (state = 'skipped' OR requeued_at IS NOT NULL)", (schema.id, low, high))
        total += int(row[0]) if row else 0
    # A failed row re-queued after its partition went leaves an exception nobody reads any more (the new row and
    # the operator's action carry its story).
    conn.execute(sql.SQL("DELETE FROM ferry.log_exceptions e WHERE e.schema_id = %s AND e.requeued_at IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM {} t WHERE t._seq = e.seq)").format(table_ident(schema)),
                 (schema.id,))
    return total
