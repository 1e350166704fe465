"""The record of workflow runs in `ferry.workflow_runs`: written at start and at end of every run.

A run holds a session advisory lock named by its id from before its row is written until it is finished, on a
connection of its own: a `running` row whose lock nobody holds was left by a process that died (SIGKILL, lost
staging), on whichever server it ran. Such runs are closed as `abandoned` (when, and why) by the next run of
the same workflow and schema, and by every server at start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# Advisory lock class of run locks (the second key is hashtext(run id)); distinct from the schema locks' class.
RUN_LOCK_CLASS = 0x46525552  # "FRUR"
# The process token: host, pid, and a start token (a pid can be reused after a reboot).
OWNER = f"{socket.gethostname()} pid {os.getpid()} start {uuid.uuid4().hex[:8]}"



class RunRecord(Protocol):
    """What the record of a run reads (`ferry.sync.workflow.RunResult` has it; runs does not import workflow)."""

    @property
    def run_id(self) -> uuid.UUID: ...
    @property
    def schema_id(self) -> str | None: ...
    @property
    def workflow(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def batches(self) -> int: ...
    @property
    def counts(self) -> dict[str, int]: ...
    @property
    def error(self) -> str | None: ...
    @property
    def started_at(self) -> dt.datetime: ...
    @property
    def ended_at(self) -> dt.datetime | None: ...


_held: dict[uuid.UUID, Any] = {}
_held_lock = threading.Lock()


def start(pool: ConnectionPool, result: RunRecord) -> None:
    """Take the run's lock, close abandoned runs of its workflow and schema, and record it as `running`."""
    # Its own connection, not a pooled one: a run is long and the pool may be small.
    conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else (pool.kwargs() if pool.kwargs else {})
    conn = psycopg.connect(conninfo, **{**kwargs, "autocommit": True})
    try:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (RUN_LOCK_CLASS, str(result.run_id)))
        _close_abandoned(conn, result.workflow, result.schema_id, "at the start of the next run of its schema",
                         both=False)
        conn.execute("INSERT INTO ferry.workflow_runs (id, workflow, schema_id, started_at, owner) "
                     "VALUES (%s, %s, %s, %s, %s)",
                     (result.run_id, result.workflow, result.schema_id, result.started_at, OWNER))
    except BaseException:
        _release(conn, None)
        raise
    with _held_lock:
        _held[result.run_id] = conn


def finish(pool: ConnectionPool, result: RunRecord) -> None:
    """Record a run's end (state, counts, error) and release its lock."""
    c = result.counts
    with _held_lock:
        conn = _held.pop(result.run_id, None)
    statement = ("UPDATE ferry.workflow_runs SET ended_at = %s, state = %s, batches = %s, rows_read = %s, "
                 "rows_inserted = %s, rows_updated = %s, rows_deleted = %s, rows_skipped = %s, rows_failed = %s, "
                 "rows_purged = %s, error = %s WHERE id = %s")
    values = (result.ended_at, result.state, result.batches, c.get("read", 0), c.get("inserted", 0),
              c.get("updated", 0), c.get("deleted", 0), c.get("skipped", 0), c.get("failed", 0), c.get("purged", 0),
              result.error, result.run_id)
    try:
        if conn is not None and not conn.broken:
            conn.execute(statement, values)
        else:
            # The run's connection was lost with its lock: record the end on another (it may already be abandoned).
            with pool.connection() as other:
                other.execute(statement, values)
    finally:
        if conn is not None:
            _release(conn, result.run_id)


def close_abandoned(pool: ConnectionPool, schema_id: str | None = None, when: str = "") -> int:
    """Close as `abandoned` every `running` run (of `schema_id`, or all) whose process is gone; returns how many."""
    with pool.connection() as conn:
        return _close_abandoned(conn, None, schema_id, when or "on request", both=schema_id is None)


def _close_abandoned(conn: Any, workflow: str | None, schema_id: str | None, when: str, *, both: bool) -> int:
    rows = conn.execute(
        "SELECT id, owner FROM ferry.workflow_runs WHERE state = 'running' "
        "AND (%(all)s OR workflow IS NOT DISTINCT FROM %(workflow)s AND schema_id IS NOT DISTINCT FROM %(schema)s)",
        {"all": both, "workflow": workflow, "schema": schema_id}).fetchall()
    closed = 0
    for run_id, owner in rows:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (RUN_LOCK_CLASS, str(run_id))).fetchone()
        if not (got and got[0]):
            continue  # its process still holds it: the run is alive
        try:
            why = (f"abandoned: the process that ran it ({owner or 'unknown'}) is gone (killed, or lost its "
                   f"connection to staging); closed {when} by {OWNER}")
            cur = conn.execute("UPDATE ferry.workflow_runs SET state = 'abandoned', ended_at = clock_timestamp(), "
                               "error = %s WHERE id = %s AND state = 'running'", (why, run_id))
            closed += cur.rowcount
            log.warning("run %s %s", run_id, why)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (RUN_LOCK_CLASS, str(run_id)))
    return closed


def _release(conn: Any, run_id: uuid.UUID | None) -> None:
    # Closing the session releases its lock too; unlocking first is just tidy.
    try:
        if run_id is not None and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (RUN_LOCK_CLASS, str(run_id)))
    except Exception as exc:  # the connection goes away anyway, and its session lock with it
        log.debug("run lock release: %s", exc)
    finally:
        conn.close()
