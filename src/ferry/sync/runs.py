"""The record of workflow runs in `ferry.workflow_runs`: written at start and at end of every run (an idle run of
the scheduler is removed at its end and only counted).

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
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
from psycopg import sql
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


_held: dict[uuid.UUID, tuple[Any, Any]] = {}
_held_lock = threading.Lock()
# Runs not recorded because they did nothing, by (workflow, schema, outcome `empty` | `skipped`), since start.
_idle: Counter[tuple[str, str, str]] = Counter()


# Called with (workflow, schema, outcome) for each idle run left unrecorded: the server's metrics count it.
idle_observer: Callable[[str, str, str], None] | None = None


def idle_counts() -> dict[tuple[str, str, str], int]:
    """How many idle runs this process left unrecorded, by (workflow, schema, outcome)."""
    with _held_lock:
        return dict(_idle)


def start(pool: ConnectionPool, result: RunRecord) -> None:
    """Take the run's lock, close abandoned runs of its workflow and schema, and record it as `running`."""
    # Its own connection, not a pooled one: a run is long and the pool may be small.
    conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else (pool.kwargs() if pool.kwargs else {})
    # One round trip: the run's lock, then (reading it) its row, and the runs of its workflow and schema still
    # `running` (as the statement's snapshot saw them, without the new row) to check for abandoned ones.
    start_sql = (
        "WITH held AS (SELECT 1 AS one FROM (SELECT pg_advisory_lock(%(class)s, hashtext(%(lock)s))) l), "
        "made AS (INSERT INTO ferry.workflow_runs (id, workflow, schema_id, started_at, owner) "
        "SELECT %(id)s, %(workflow)s, %(schema)s, %(started)s, %(owner)s FROM held RETURNING id) "
        "SELECT r.id, r.owner FROM ferry.workflow_runs r, made WHERE r.state = 'running' "
        "AND r.workflow IS NOT DISTINCT FROM %(workflow)s AND r.schema_id IS NOT DISTINCT FROM %(schema)s")
    params = {"class": RUN_LOCK_CLASS, "lock": str(result.run_id), "id": result.run_id, "workflow": result.workflow,
              "schema": result.schema_id, "started": result.started_at, "owner": OWNER}
    conn = _kept(pool)
    running: list[tuple[Any, Any]] = []
    try:
        if conn is not None:
            try:
                running = conn.execute(start_sql, params).fetchall()
            except psycopg.OperationalError:  # a kept connection staging dropped since (a restart): a new one
                conn.close()
                conn = None
        if conn is None:
            conn = psycopg.connect(conninfo, **{**kwargs, "autocommit": True})
            running = conn.execute(start_sql, params).fetchall()
        if running:
            _close_found(conn, running, "at the start of the next run of its schema")
    except BaseException:
        if conn is not None:
            _release(conn, None)  # closed: its session's locks go with it
        raise
    with _held_lock:
        _held[result.run_id] = (conn, pool)


def finish(pool: ConnectionPool, result: RunRecord, *, keep: bool = True) -> None:
    """Record a run's end (state, counts, error) and release its lock; when not `keep`, remove its row instead and
    only count it (an idle run of the scheduler: recording each would bury the runs that did something)."""
    c = result.counts
    with _held_lock:
        conn, owner = _held.pop(result.run_id, (None, None))
        if not keep:
            outcome = "skipped" if result.state == "skipped" else "empty"
            _idle[(result.workflow, result.schema_id or "", outcome)] += 1
    if not keep and idle_observer is not None:
        idle_observer(result.workflow, result.schema_id or "", outcome)
    statement = ("UPDATE ferry.workflow_runs SET ended_at = %s, state = %s, batches = %s, rows_read = %s, "
                 "rows_inserted = %s, rows_updated = %s, rows_deleted = %s, rows_skipped = %s, rows_failed = %s, "
                 "rows_purged = %s, error = %s WHERE id = %s")
    values: tuple[Any, ...] = (result.ended_at, result.state, result.batches, c.get("read", 0), c.get("inserted", 0),
              c.get("updated", 0), c.get("deleted", 0), c.get("skipped", 0), c.get("failed", 0), c.get("purged", 0),
              result.error, result.run_id)
    if not keep:
        statement, values = "DELETE FROM ferry.workflow_runs WHERE id = %s", (result.run_id,)
    released = False
    try:
        if conn is not None and not conn.broken:
            # The end and the lock's release in one round trip, the release reading the written row (so after it:
            # a closer that then finds the lock free waits on the row, and finds it no longer `running`).
            row = conn.execute(sql.SQL("WITH done AS ({} RETURNING 1) SELECT pg_advisory_unlock(%s, hashtext(%s)) "
                                       "FROM done").format(sql.SQL(statement)),
                               (*values, RUN_LOCK_CLASS, str(result.run_id))).fetchone()
            released = bool(row and row[0])
        else:
            # The run's connection was lost with its lock: record the end on another (it may already be abandoned).
            with pool.connection() as other:
                other.execute(statement, values)
    finally:
        if conn is not None:
            _release(conn, None if released else result.run_id, owner, released=released)


def close_abandoned(pool: ConnectionPool, schema_id: str | None = None, when: str = "") -> int:
    """Close as `abandoned` every `running` run (of `schema_id`, or all) whose process is gone; returns how many."""
    with pool.connection() as conn:
        return _close_abandoned(conn, None, schema_id, when or "on request", both=schema_id is None)


def _close_abandoned(conn: Any, workflow: str | None, schema_id: str | None, when: str, *, both: bool) -> int:
    rows = conn.execute(
        "SELECT id, owner FROM ferry.workflow_runs WHERE state = 'running' "
        "AND (%(all)s OR workflow IS NOT DISTINCT FROM %(workflow)s AND schema_id IS NOT DISTINCT FROM %(schema)s)",
        {"all": both, "workflow": workflow, "schema": schema_id}).fetchall()
    return _close_found(conn, rows, when)


def _close_found(conn: Any, rows: list[tuple[Any, Any]], when: str) -> int:
    """Close as `abandoned` those of these `running` runs whose lock nobody holds; returns how many."""
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
            if cur.rowcount:
                log.warning("run %s %s", run_id, why)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (RUN_LOCK_CLASS, str(run_id)))
    return closed


# Connections of finished runs, idle, kept for the next runs of the same staging pool (opening one costs a few
# round trips and a backend start: most of a small run's bookkeeping in continuous mode); at most _KEEP per pool,
# closed once their pool is closed (checked at every run start) or gone.
_spare_conns: weakref.WeakKeyDictionary[ConnectionPool, list[Any]] = weakref.WeakKeyDictionary()
_KEEP = 1


def _kept(pool: ConnectionPool) -> Any:
    with _held_lock:
        stale = [conn for owner, conns in list(_spare_conns.items()) if owner.closed for conn in conns]
        for owner in [owner for owner in list(_spare_conns.keys()) if owner.closed]:
            del _spare_conns[owner]
        found = _spare_conns.get(pool)
        conn = found.pop() if found else None
    for old in stale:
        old.close()
    return conn


def _release(conn: Any, run_id: uuid.UUID | None, pool: ConnectionPool | None = None, *,
             released: bool = False) -> None:
    # Kept only once its run's lock is released for sure (`released`, or unlocked here); else closed (closing the
    # session releases its lock).
    unlocked = released
    try:
        if run_id is not None and not conn.broken:
            row = conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                               (RUN_LOCK_CLASS, str(run_id))).fetchone()
            unlocked = bool(row and row[0])
    except Exception as exc:  # the connection goes away anyway, and its session lock with it
        log.debug("run lock release: %s", exc)
    if (unlocked and pool is not None and not pool.closed and not conn.closed
            and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE):
        with _held_lock:
            spare = _spare_conns.setdefault(pool, [])
            if len(spare) < _KEEP:
                spare.append(conn)
                return
    conn.close()
