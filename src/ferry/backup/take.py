"""`ferry backup DIR`, online: while it holds every schema's sync lock (no run can move rows between staging and
the warehouse), staging is dumped and the warehouse copied, so the two describe the same syncs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

import ferry
from ferry import errors
from ferry.backup import pgtools
from ferry.backup.manifest import FORMAT_VERSION, STAGING_DUMP, WAREHOUSE_DUMP, WAREHOUSE_FILE, Manifest
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.sync.batches import SCHEMA_LOCK_CLASS
from ferry.warehouse.base import Warehouse


@contextmanager
def every_sync_paused(db: StagingDatabase, schema_ids: list[str]) -> Iterator[psycopg.Connection[Any]]:
    """Hold every schema's sync lock: waits for running syncs to end, and keeps new ones from starting. All are
    taken on one connection of their own, outside the pool (whatever the number of schemas); yields it."""
    try:
        conn = psycopg.connect(db.url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise FerryError(errors.STAGING_UNAVAILABLE, f"cannot open a connection to staging for the backup: "
                         f"{str(exc).strip()}") from None
    with conn:
        for schema_id in sorted(schema_ids):
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (SCHEMA_LOCK_CLASS, schema_id))
        yield conn  # closing it releases every lock


def _prepare(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FerryError(errors.BACKUP_FAILED, f"{folder} is not empty: give a new or empty folder for the backup")


def backup(db: StagingDatabase, warehouse: Warehouse, folder: Path) -> Manifest:
    """Save staging and the warehouse into `folder` (new or empty), the manifest last."""
    _prepare(folder)
    engine = warehouse.identity().engine
    if engine not in ("duckdb", "postgresql"):
        raise FerryError(errors.BACKUP_FAILED, f"ferry backup saves DuckDB and PostgreSQL warehouses; back up the "
                         f"{engine} warehouse with its own tools (e.g. Snowflake Time Travel / CLONE) at a moment no "
                         "sync runs, and staging with pg_dump")
    db.reload_schemas()
    schema_ids = [schema.id for schema in db.registry.staged()]
    with every_sync_paused(db, schema_ids) as conn:
        identity = warehouse.identity()
        row = conn.execute("SELECT engine, identity, display FROM ferry.warehouse_identity").fetchone()
        pgtools.dump(db.url, folder / STAGING_DUMP, "staging")
        if identity.engine == "duckdb":
            warehouse_file = WAREHOUSE_FILE
            copy_duckdb(warehouse, folder / WAREHOUSE_FILE)
        else:
            warehouse_file = WAREHOUSE_DUMP
            pgtools.dump(warehouse.url, folder / WAREHOUSE_DUMP, "the warehouse")
    manifest = Manifest(
        format_version=FORMAT_VERSION, ferry_version=ferry.__version__,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), warehouse_engine=identity.engine,
        warehouse_file=warehouse_file,
        claimed_identity=None if row is None else {"engine": str(row[0]), "identity": str(row[1]),
                                                   "display": str(row[2])},
        warehouse_identity=identity.stable_id, schemas=schema_ids)
    manifest.write(folder)
    return manifest


def copy_duckdb(warehouse: Warehouse, target: Path) -> None:
    """A checkpointed copy of the DuckDB file this process holds open (no other process may write it), or made by
    the running server that holds it."""
    from ferry.warehouse.duckdb_wh import DuckDBWarehouse
    from ferry.warehouse.remote import RemoteWarehouse

    if isinstance(warehouse, RemoteWarehouse):
        warehouse.client.call("copy_file", {"target": str(target.resolve())}, timeout=None)
        return
    if not isinstance(warehouse, DuckDBWarehouse) or warehouse.path == ":memory:":
        raise FerryError(errors.BACKUP_FAILED, "an in-memory DuckDB warehouse has nothing to back up")
    warehouse.copy_file(target)
