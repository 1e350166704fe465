"""The record of workflow runs in `ferry.workflow_runs`: written at start and at end of every run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg_pool import ConnectionPool

if TYPE_CHECKING:
    from ferry.sync.workflow import RunResult


def start(pool: ConnectionPool, result: RunResult) -> None:
    """Record a run as `running`."""
    with pool.connection() as conn:
        conn.execute("INSERT INTO ferry.workflow_runs (id, workflow, schema_id, started_at) VALUES (%s, %s, %s, %s)",
                     (result.run_id, result.workflow, result.schema_id, result.started_at))


def finish(pool: ConnectionPool, result: RunResult) -> None:
    """Record a run's end: state, counts, error."""
    c = result.counts
    with pool.connection() as conn:
        conn.execute(
            "UPDATE ferry.workflow_runs SET ended_at = %s, state = %s, batches = %s, rows_read = %s, "
            "rows_inserted = %s, rows_updated = %s, rows_deleted = %s, rows_skipped = %s, rows_failed = %s, "
            "rows_purged = %s, error = %s WHERE id = %s",
            (result.ended_at, result.state, result.batches, c.get("read", 0), c.get("inserted", 0),
             c.get("updated", 0), c.get("deleted", 0), c.get("skipped", 0), c.get("failed", 0), c.get("purged", 0),
             result.error, result.run_id))
