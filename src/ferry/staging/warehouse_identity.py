"""The warehouse a staging database feeds, claimed by the first server that syncs; any other is refused."""

from __future__ import annotations

import os
import socket

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.warehouse.base import Identity, Warehouse


def this_process() -> str:
    """`host pid N`: who claimed or ran something."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def claimed(pool: ConnectionPool) -> tuple[str, str, str] | None:
    """(engine, identity, display) of the warehouse this staging database feeds, or None before the first sync."""
    with pool.connection() as conn:
        row = conn.execute("SELECT engine, identity, display FROM ferry.warehouse_identity").fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


def verify(pool: ConnectionPool, warehouse: Warehouse) -> Identity | None:
    """Claim `warehouse` for this staging database when none is recorded, else check it is the recorded one:
    FRY-500007 when it is another (syncing into it would split the data between two warehouses).

    An in-memory DuckDB (tests, one process) has nothing stable to record: it is accepted without a claim.
    """
    if warehouse.url.endswith(":memory:"):
        return None
    mine = warehouse.identity()
    with pool.connection() as conn:
        conn.execute("INSERT INTO ferry.warehouse_identity (engine, identity, display, claimed_by) "
                     "VALUES (%s, %s, %s, %s) ON CONFLICT (one) DO NOTHING",
                     (mine.engine, mine.stable_id, mine.display, this_process()))
        row = conn.execute("SELECT engine, identity, display, claimed_at, claimed_by "
                           "FROM ferry.warehouse_identity").fetchone()
    assert row is not None
    if (row[0], row[1]) != (mine.engine, mine.stable_id):
        raise FerryError(errors.WAREHOUSE_MISMATCH,
                         f"this staging database feeds the warehouse {row[2]} (id {row[1]}, claimed "
                         f"{row[3]:%Y-%m-%d %H:%M:%S %Z} by {row[4]}), but this server is configured with "
                         f"{mine.display} (id {mine.stable_id}): it will not sync into it, which would split the data "
                         "between two warehouses. Point FERRY_WAREHOUSE_URL at the recorded warehouse, or run this "
                         "server with --role ingest")
    return mine
