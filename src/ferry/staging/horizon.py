"""The commit-safe horizon of a staging table: a `_seq` below which no transaction can still add a row.

Every write to a staging table takes its RowExclusiveLock before `nextval` hands the row its `_seq` (the lock is
taken when the INSERT or COPY opens the table) and keeps it until its transaction ends. So after reading H, the
sequence's last value, every transaction that may still commit a row with `_seq <= H` holds that lock. Once each
transaction seen holding it (read after H) has ended, no row at or below H can appear any more: H is proven.
A transaction held open keeps the proof from succeeding; the previous proven horizon then stands, which only holds
back this schema's sync (never ingest, never another table).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psycopg

from ferry.schema.model import Schema
from ferry.staging.ddl import STAGING_SCHEMA, staging_table_name

# How long a proof waits for the writers it saw; group-committed ingest transactions last milliseconds.
WAIT_SECONDS = 0.1
_POLL_SECONDS = 0.002
# Unproven candidates kept per table: an older one may succeed later while a newer one still waits on a writer.
_KEEP = 8


@dataclass(frozen=True)
class _Candidate:
    horizon: int
    writers: tuple[str, ...]  # virtual transaction ids that held the table's RowExclusiveLock after `horizon` was read


_candidates: dict[tuple[str, str], list[_Candidate]] = {}
_lock = threading.Lock()


def prove(conn: psycopg.Connection, schema: Schema, *, wait: float = WAIT_SECONDS) -> int | None:
    """The highest horizon of `schema`'s table proven now (waiting up to `wait` seconds), or None if none is.

    `conn` must be in autocommit mode (each statement sees the transactions committed before it).
    """
    table = f"{STAGING_SCHEMA}.{staging_table_name(schema)}"
    key = (str(conn.info.dsn), table)
    fresh = _candidate(conn, table)
    with _lock:
        pending = [*_candidates.get(key, []), fresh]
    deadline = time.monotonic() + wait
    while True:
        alive = _alive(conn, table, {w for c in pending for w in c.writers})
        if not alive.intersection(fresh.writers) or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    best = max((c.horizon for c in pending if not alive.intersection(c.writers)), default=None)
    if best is not None:
        best = min(best, fresh.horizon)  # the sequence only grows: a remembered value above it is stale
    with _lock:
        _candidates[key] = [c for c in pending if alive.intersection(c.writers)
                            and (best is None or c.horizon > best)][-_KEEP:]
    return best


def _candidate(conn: psycopg.Connection, table: str) -> _Candidate:
    # Two statements, in this order: the sequence's value first, then who holds the lock.
    row = conn.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, '_seq')::regclass)",
                       (table,)).fetchone()
    horizon = int(row[0]) if row is not None and row[0] is not None else 0
    writers = conn.execute(
        "SELECT DISTINCT virtualtransaction FROM pg_locks WHERE locktype = 'relation' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = %s::regclass "
        "AND mode = 'RowExclusiveLock' AND pid IS DISTINCT FROM pg_backend_pid()", (table,)).fetchall()
    return _Candidate(horizon, tuple(sorted(str(w[0]) for w in writers)))


def _alive(conn: psycopg.Connection, table: str, writers: set[str]) -> set[str]:
    """Which of these transactions still hold the table's lock (a prepared transaction keeps it too)."""
    if not writers:
        return set()
    rows = conn.execute("SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' "
                        "AND relation = %s::regclass AND mode = 'RowExclusiveLock' AND virtualtransaction = ANY(%s)",
                        (table, sorted(writers))).fetchall()
    return {str(r[0]) for r in rows}
