"""The record of workflow script runs in `ferry.script_runs`, and the lock that keeps one run per workflow.

A run holds a session advisory lock named by its workflow, on a connection of its own, from before its row is
written until it is recorded as ended: whichever server runs it, no other run of that workflow starts meanwhile.
A `running` row of a workflow whose lock nobody holds was left by a process that died; it is closed `abandoned`
by the next start of that workflow and by every server at start.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.scripts.results import cut_message, storable
from ferry.sync.runs import OWNER

log = logging.getLogger(__name__)

# Advisory lock class of workflow locks (second key hashtext(name)); distinct from the sync's schema and run locks.
WORKFLOW_LOCK_CLASS = 0x46525746  # "FRWF"
FLUSH_SECONDS = 1.0  # a running run's log is written this often, so the console shows it while it runs
STATES = ("running", "succeeded", "failed", "timed_out", "stopped", "abandoned")


def connect(pool: ConnectionPool) -> psycopg.Connection[Any]:
    """A connection of its own, outside the pool (a run is long and the pool may be small); FRY-300001 when
    staging refuses it."""
    conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else (pool.kwargs() if pool.kwargs else {})
    try:
        return psycopg.connect(conninfo, **{**kwargs, "autocommit": True})
    except psycopg.OperationalError as exc:
        raise FerryError(errors.STAGING_UNAVAILABLE, f"cannot open a connection to staging for the workflow run: "
                         f"{str(exc).strip()}") from None


def lock(conn: psycopg.Connection[Any], name: str, *, wait: bool) -> bool:
    """Take the workflow's lock on `conn`: at once or not at all, or waiting for a run in progress."""
    if wait:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (WORKFLOW_LOCK_CLASS, name))
        return True
    row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (WORKFLOW_LOCK_CLASS, name)).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection[Any], name: str) -> None:
    """Release the workflow's lock (closing the connection would too)."""
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (WORKFLOW_LOCK_CLASS, name))


def close_abandoned_locked(conn: psycopg.Connection[Any], name: str, when: str) -> int:
    """With the workflow's lock held: every `running` run of it was left by a dead process; close them."""
    why = (f"{errors.WORKFLOW_ABANDONED.code} abandoned: the process that ran it is gone (killed, or lost its "
           f"connection to staging); closed {when} by {OWNER}")
    cur = conn.execute("UPDATE ferry.script_runs SET state = 'abandoned', ended_at = clock_timestamp(), "
                       "error_code = %s, error = %s || ' (' || coalesce(owner, 'unknown') || ')' "
                       "WHERE workflow = %s AND state = 'running'",
                       (errors.WORKFLOW_ABANDONED.code, why, name))
    if cur.rowcount:
        log.warning("workflow %s: %d run(s) %s", name, cur.rowcount, why)
    return cur.rowcount


def close_abandoned(pool: ConnectionPool, when: str = "at the start of a server") -> int:
    """Close `abandoned` every running run whose workflow lock is free (its process is gone); returns how many."""
    closed = 0
    with connect(pool) as conn:
        names = [row[0] for row in conn.execute("SELECT DISTINCT workflow FROM ferry.script_runs "
                                                "WHERE state = 'running'").fetchall()]
        for name in names:
            if lock(conn, name, wait=False):
                try:
                    closed += close_abandoned_locked(conn, name, when)
                finally:
                    unlock(conn, name)
    return closed


class RunLog:
    """A run's log lines: the first `cap` kept (each message cut as `cut_message` does), the rest counted."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.lines: list[dict[str, str]] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, at: dt.datetime | str | float | None, level: str, message: str) -> dict[str, str] | None:
        """Keep one line (or count it, past the cap); the line as kept, None when only counted."""
        if isinstance(at, dt.datetime):
            stamp = at.astimezone(dt.UTC).isoformat()
        elif isinstance(at, int | float):
            stamp = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
        else:
            stamp = at or dt.datetime.now(dt.UTC).isoformat()
        kept = {"time": stamp, "level": str(level), "message": cut_message(message)}
        with self._lock:
            if len(self.lines) < self.cap:
                self.lines.append(kept)
                return kept
            self.dropped += 1
        return None

    def snapshot(self) -> tuple[list[dict[str, str]], int]:
        """The kept lines and the count of dropped ones, as they stand."""
        with self._lock:
            return list(self.lines), self.dropped


@dataclass
class RunRecord:
    """One run as it is being recorded."""

    id: uuid.UUID
    workflow: str
    trigger: str
    started_by: str | None
    operator_login: str | None
    script_version: int
    script_sha256: str
    vars: dict[str, Any]
    log: RunLog
    state: str = "running"
    error_code: str | None = None
    error: str | None = None
    line: int | None = None
    column: int | None = None
    request_ids: list[str] = field(default_factory=list)
    scheduled_for: dt.datetime | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended_at: dt.datetime | None = None

    written_lines: int = -1  # log lines the last flush wrote (-1: none yet)

    def insert(self, conn: psycopg.Connection[Any]) -> None:
        """Write the `running` row."""
        conn.execute("INSERT INTO ferry.script_runs (id, workflow, started_at, trigger, scheduled_for, started_by, "
                     "operator_login, script_version, script_sha256, vars, owner) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (self.id, self.workflow, self.started_at, self.trigger, self.scheduled_for, self.started_by,
                      self.operator_login, self.script_version, self.script_sha256, Jsonb(storable(self.vars)),
                      OWNER))

    def flush_log(self, conn: psycopg.Connection[Any]) -> None:
        """Write the log so far (the run goes on); only the dropped count when no line was kept since."""
        lines, dropped = self.log.snapshot()
        if len(lines) == self.written_lines:  # at the cap: the log itself is as written, don't send it again
            conn.execute("UPDATE ferry.script_runs SET log_dropped = %s WHERE id = %s AND state = 'running'",
                         (dropped, self.id))
            return
        conn.execute("UPDATE ferry.script_runs SET log = %s, log_dropped = %s WHERE id = %s AND state = 'running'",
                     (Jsonb(storable(lines)), dropped, self.id))
        self.written_lines = len(lines)

    def finish(self, conn: psycopg.Connection[Any]) -> None:
        """Record the end: outcome, coded error and position, the whole kept log, request ids."""
        self.ended_at = dt.datetime.now(dt.UTC)
        lines, dropped = self.log.snapshot()
        conn.execute("UPDATE ferry.script_runs SET ended_at = %s, state = %s, error_code = %s, error = %s, "
                     "line = %s, col = %s, log = %s, log_dropped = %s, request_ids = %s WHERE id = %s",
                     (self.ended_at, self.state, storable(self.error_code), storable(self.error), self.line,
                      self.column, Jsonb(storable(lines)), dropped, storable(self.request_ids), self.id))


def get_run(pool: ConnectionPool, run_id: uuid.UUID) -> dict[str, Any] | None:
    """One run with its log, or None."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row: dict[str, Any] | None = cur.execute("SELECT * FROM ferry.script_runs WHERE id = %s",
                                                 (run_id,)).fetchone()
    return row


_LISTED = ("id, workflow, started_at, ended_at, state, trigger, scheduled_for, started_by, operator_login, "
           "script_version, script_sha256, vars, error_code, error, line, col, log_dropped, request_ids, owner, "
           "jsonb_array_length(log) AS log_lines")


def list_runs(pool: ConnectionPool, workflow: str | None = None, *, limit: int = 50,
              with_log: bool = False) -> list[dict[str, Any]]:
    """The latest runs, newest first (of one workflow, or all); without their log unless `with_log`."""
    columns = sql.SQL("*" if with_log else _LISTED)
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM ferry.script_runs WHERE (%(w)s::text IS NULL OR workflow = %(w)s) "
                    "ORDER BY started_at DESC LIMIT %(limit)s").format(columns),
            {"w": workflow, "limit": max(1, min(limit, 10_000))}).fetchall()


def request_stop(pool: ConnectionPool, workflow: str) -> int:
    """Ask the running run of `workflow` (on whichever server) to stop; returns how many runs were asked."""
    with pool.connection() as conn:
        cur = conn.execute("UPDATE ferry.script_runs SET stop_requested = true WHERE workflow = %s "
                           "AND state = 'running'", (workflow,))
    return cur.rowcount


def stop_requested(pool: ConnectionPool, run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these running runs an operator asked to stop."""
    if not run_ids:
        return set()
    with pool.connection() as conn:
        rows = conn.execute("SELECT id FROM ferry.script_runs WHERE id = ANY(%s) AND stop_requested",
                            (run_ids,)).fetchall()
    return {row[0] for row in rows}


def stop_asked(conn: psycopg.Connection[Any], run_id: uuid.UUID) -> bool:
    """Whether an operator asked this run to stop (read by the run's own flusher, on its own connection)."""
    row = conn.execute("SELECT stop_requested FROM ferry.script_runs WHERE id = %s", (run_id,)).fetchone()
    return bool(row and row[0])


def purge(pool: ConnectionPool, retention_days: float) -> int:
    """Drop runs that ended longer ago than the retention, keeping each workflow's latest run; returns how many."""
    with pool.connection() as conn:
        cur = conn.execute(
            "DELETE FROM ferry.script_runs r WHERE state <> 'running' "
            "AND ended_at < clock_timestamp() - make_interval(secs => %s) "
            "AND id <> (SELECT l.id FROM ferry.script_runs l WHERE l.workflow = r.workflow "
            "ORDER BY l.started_at DESC LIMIT 1)", (retention_days * 86_400.0,))
        # Relayed scripts (`ferry js` to a server): their record goes with the same retention.
        conn.execute("DELETE FROM ferry.script_requests WHERE coalesce(ended_at, requested_at + make_interval("
                     "secs => time_limit)) < clock_timestamp() - make_interval(secs => %s)",
                     (retention_days * 86_400.0,))
    return cur.rowcount


@dataclass(frozen=True)
class WorkflowMetrics:
    """Per workflow: runs by outcome, when it last succeeded, log lines dropped."""

    workflow: str
    runs: dict[str, int]
    last_success: dt.datetime | None
    log_dropped: int


def metrics(pool: ConnectionPool) -> list[WorkflowMetrics]:
    """The numbers `/metrics` shows for workflow scripts (over the runs retention kept)."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT workflow, state, count(*), max(ended_at) FILTER (WHERE state = 'succeeded'), "
                            "sum(log_dropped) FROM ferry.script_runs GROUP BY workflow, state "
                            "ORDER BY workflow").fetchall()
    found: dict[str, WorkflowMetrics] = {}
    for workflow, state, count, success, dropped in rows:
        current = found.get(workflow) or WorkflowMetrics(workflow, {}, None, 0)
        runs = {**current.runs, state: int(count)}
        last = max((t for t in (current.last_success, success) if t is not None), default=None)
        found[workflow] = WorkflowMetrics(workflow, runs, last, current.log_dropped + int(dropped or 0))
    return list(found.values())
