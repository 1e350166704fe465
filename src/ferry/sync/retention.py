"""Retention of the staging log (`ferryPurgeStagingData`): whole partitions dropped, never a row deleted.

A partition goes once every row in it is applied (its upper bound is at or below the applied horizon), the batch
holding its last row was applied longer ago than the retention, and none of its rows is a failed row still open
(neither re-queued nor discarded by an operator). Failed rows keep their columns in their exception, so a
discarded or re-queued row's history survives the drop.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ferry.schema.model import Schema
from ferry.staging import outcomes, partitions
from ferry.staging.ddl import STAGING_SCHEMA


def droppable(conn: psycopg.Connection, schema: Schema, retention_days: float) -> list[tuple[str, int, int]]:
    """The partitions retention may drop now, lowest first."""
    applied = outcomes.applied_horizon(conn, schema.id)
    found = []
    for name, low, high in partitions.partitions(conn, schema):
        if high - 1 > applied:
            break
        row = conn.execute(
            "SELECT (SELECT done_at < now() - make_interval(secs => %(age)s) FROM ferry.log_batches "
            "WHERE schema_id = %(s)s AND first_seq <= %(last)s ORDER BY first_seq DESC LIMIT 1), "
            "EXISTS (SELECT 1 FROM ferry.log_exceptions e WHERE e.schema_id = %(s)s AND e.seq >= %(low)s "
            "AND e.seq < %(high)s AND e.state = 'failed' AND e.requeued_at IS NULL "
            "AND (SELECT a.action FROM ferry.row_actions a WHERE a.row_uuid = e.row_uuid "
            "ORDER BY a.at DESC, a.id DESC LIMIT 1) IS DISTINCT FROM 'discard')",
            {"age": retention_days * 86_400.0, "s": schema.id, "last": high - 1, "low": low, "high": high}).fetchone()
        old_enough, open_failed = (bool(row[0]), bool(row[1])) if row else (False, True)
        if old_enough and not open_failed:
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
    return total
