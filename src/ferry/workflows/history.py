"""Reading the history of workflow runs, and the numbers metrics and status pages show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ferry.staging.database import StagingDatabase
from ferry.sync.workflow import WORKFLOW

# A run's outcome (`state`), as the filters of the CLI, REST and console name it.
RUN_STATES = ("running", "succeeded", "failed", "skipped", "abandoned")
_COUNTS = ("read", "inserted", "updated", "deleted", "skipped", "failed", "purged")


def list_runs(pool: ConnectionPool, schema_id: str | None = None, *, limit: int = 50,
              workflow: str | None = None, states: list[str] | None = None) -> list[dict[str, Any]]:
    """The latest runs, newest first (optionally of one schema, one workflow, some outcomes)."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM ferry.workflow_runs WHERE (%(schema)s::text IS NULL OR schema_id = %(schema)s) "
            "AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s) "
            "AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s)) ORDER BY started_at DESC LIMIT %(limit)s",
            {"schema": schema_id, "workflow": workflow, "states": list(states) if states else None,
             "limit": max(1, min(limit, 10_000))},
        ).fetchall()
    return rows


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """A run as REST and `ferry workflows --json` both show it (one vocabulary)."""
    ended = run.get("ended_at")
    return {"id": str(run["id"]), "workflow": run["workflow"], "schema": run["schema_id"], "state": run["state"],
            "startedAt": run["started_at"].isoformat() if run.get("started_at") else None,
            "endedAt": ended.isoformat() if ended else None, "batches": run.get("batches"),
            "rows": {name: int(run.get(f"rows_{name}") or 0) for name in _COUNTS}, "error": run.get("error")}


def last_success(pool: ConnectionPool, schema_id: str) -> dt.datetime | None:
    """When the sync of `schema_id` last ended without error."""
    with pool.connection() as conn:
        row = conn.execute("SELECT max(ended_at) FROM ferry.workflow_runs WHERE workflow = %s AND schema_id = %s "
                           "AND state = 'succeeded'", (WORKFLOW, schema_id)).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class SyncMetrics:
    """Per staged schema: rows per state, lag (age of the oldest unsynced row), last success, last error."""

    schema_id: str
    counts: dict[str, int]
    lag_seconds: float
    last_success: dt.datetime | None
    last_state: str | None
    last_error: str | None
    rows_synced_total: dict[str, int]


def sync_metrics(db: StagingDatabase) -> list[SyncMetrics]:
    """The source data of `/metrics` and `ferry status` for the sync."""
    out = []
    statuses = {status.schema_id: status for status in db.store.status()}
    with db.pool.connection() as conn:
        for schema_id, status in statuses.items():
            last = conn.execute(
                "SELECT state, error FROM ferry.workflow_runs WHERE workflow = %s AND schema_id = %s "
                "AND state <> 'skipped' ORDER BY started_at DESC LIMIT 1", (WORKFLOW, schema_id)).fetchone()
            totals = conn.execute(
                "SELECT coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0), "
                "coalesce(sum(rows_deleted), 0), coalesce(sum(rows_skipped), 0), coalesce(sum(rows_failed), 0) "
                "FROM ferry.workflow_runs WHERE workflow = %s AND schema_id = %s", (WORKFLOW, schema_id)).fetchone()
            assert totals is not None
            out.append(SyncMetrics(
                schema_id=schema_id,
                counts=status.counts,
                lag_seconds=status.lag_seconds,
                last_success=last_success(db.pool, schema_id),
                last_state=last[0] if last else None,
                last_error=last[1] if last else None,
                rows_synced_total=dict(zip(("inserted", "updated", "deleted", "skipped", "failed"),
                                           (int(v) for v in totals), strict=True)),
            ))
    return out
