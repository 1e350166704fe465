"""Retention of the staging log: applied rows older than the retention are removed; staged and open failed rows
never are."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ferry.schema.model import Schema
from ferry.staging import outcomes
from ferry.staging.ddl import table_ident


def purge(conn: psycopg.Connection, schema: Schema, retention_days: float, chunk: int = 50_000) -> int:
    """Delete rows at or below the applied horizon whose batch was applied longer ago than the retention, except
    failed rows no operator re-queued; returns how many."""
    applied = outcomes.applied_horizon(conn, schema.id)
    query = sql.SQL(
        "DELETE FROM {t} WHERE _seq IN (SELECT t._seq FROM {t} t WHERE t._seq <= %(h)s "
        "AND t._seq <= coalesce((SELECT max(last_seq) FROM ferry.log_batches WHERE schema_id = %(s)s "
        "AND done_at < now() - make_interval(secs => %(age)s)), 0) "
        "AND NOT EXISTS (SELECT 1 FROM ferry.log_exceptions e WHERE e.schema_id = %(s)s AND e.seq = t._seq "
        "AND e.state = 'failed' AND e.requeued_at IS NULL) LIMIT %(n)s)"
    ).format(t=table_ident(schema))
    total = 0
    while True:
        cur = conn.execute(query, {"h": applied, "s": schema.id, "age": retention_days * 86_400.0, "n": chunk})
        total += cur.rowcount
        if cur.rowcount < chunk:
            return total
