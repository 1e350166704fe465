"""`ferry backup DIR`, online: while it holds every schema's sync lock (no run can move rows between staging and
the warehouse), staging is dumped and the warehouse copied, so the two describe the same syncs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import ferry
from ferry import errors
from ferry.backup import pgtools
from ferry.backup.manifest import FORMAT_VERSION, STAGING_DUMP, WAREHOUSE_DUMP, WAREHOUSE_FILE, Manifest
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.staging.warehouse_identity import claimed
from ferry.sync.batches import schema_lock
from ferry.warehouse.base import Warehouse


@contextmanager
def every_sync_paused(db: StagingDatabase, schema_ids: list[str]) -> Iterator[None]:
    """Hold every schema's sync lock: waits for running syncs to end, and keeps new ones from starting."""
    with ExitStack() as stack:
        for schema_id in sorted(schema_ids):
            stack.enter_context(schema_lock(db.pool, schema_id, wait=True))
        yield


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
    with every_sync_paused(db, schema_ids):
        identity = warehouse.identity()
        row = claimed(db.pool)
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
        claimed_identity=None if row is None else {"engine": row[0], "identity": row[1], "display": row[2]},
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
