"""Syncs requested through staging, for a process that cannot open the warehouse itself.

DuckDB lets one process write a file: while `ferry serve` holds it, `ferry sync` leaves a request here and the
server's scheduler runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from ferry.errors import FerryError


@dataclass(frozen=True)
class SyncRequest:
    """A request and, once a scheduler took it, the runs it started (or why it could not)."""

    id: uuid.UUID
    schema_id: str | None
    taken: bool
    run_ids: list[uuid.UUID]
    error: str | None


def request_sync(pool: ConnectionPool, schema_id: str | None, requested_by: str | None = None) -> uuid.UUID:
    """Leave a request for one schema (None: every staged schema)."""
    request_id = uuid.uuid4()
    with pool.connection() as conn:
        conn.execute("INSERT INTO ferry.sync_requests (id, schema_id, requested_by) VALUES (%s, %s, %s)",
                     (request_id, schema_id, requested_by))
    return request_id


def request_state(pool: ConnectionPool, request_id: uuid.UUID) -> SyncRequest | None:
    """The request as it stands."""
    with pool.connection() as conn:
        row = conn.execute("SELECT schema_id, taken_at, run_ids, error FROM ferry.sync_requests WHERE id = %s",
                           (request_id,)).fetchone()
    if row is None:
        return None
    return SyncRequest(request_id, row[0], row[1] is not None, list(row[2] or []), row[3])


def cancel_request(pool: ConnectionPool, request_id: uuid.UUID) -> bool:
    """Withdraw a request nobody took yet; False when a scheduler already took it."""
    with pool.connection() as conn:
        cur = conn.execute("DELETE FROM ferry.sync_requests WHERE id = %s AND taken_at IS NULL", (request_id,))
    return cur.rowcount == 1


def take_requests(pool: ConnectionPool, trigger: Callable[[str | None], list[uuid.UUID]], limit: int = 20) -> int:
    """Start the runs of pending requests with `trigger`; returns how many requests were taken."""
    with pool.connection() as conn, conn.transaction():
        rows = conn.execute("SELECT id, schema_id FROM ferry.sync_requests WHERE taken_at IS NULL "
                            "ORDER BY requested_at LIMIT %s FOR UPDATE SKIP LOCKED", (limit,)).fetchall()
        for request_id, schema_id in rows:
            run_ids: list[uuid.UUID] = []
            error = None
            try:
                run_ids = trigger(schema_id)
            except FerryError as exc:
                error = exc.text
            conn.execute("UPDATE ferry.sync_requests SET taken_at = clock_timestamp(), run_ids = %s, error = %s "
                         "WHERE id = %s", (run_ids, error, request_id))
    return len(rows)
