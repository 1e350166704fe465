"""`ferry restore DIR`: a backup into empty databases (or, with force, emptied ones), then staging told that the
restored warehouse is the one it feeds (its id travels inside it; only its place changed)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ferry import errors
from ferry.backup import pgtools
from ferry.backup.manifest import STAGING_DUMP, WAREHOUSE_FILE, Manifest
from ferry.errors import FerryError
from ferry.warehouse import open_warehouse


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    manifest: Manifest
    staging_url: str
    warehouse_url: str
    identity_moved: bool  # ferry.warehouse_identity now names the restored warehouse


def _engine(warehouse_url: str) -> str:
    scheme = warehouse_url.split("://", 1)[0].lower()
    return {"duckdb": "duckdb", "postgresql": "postgresql", "postgres": "postgresql"}.get(scheme, scheme)


def _duckdb_path(warehouse_url: str) -> Path:
    return Path(warehouse_url.split("://", 1)[1].partition("?")[0])


def _occupied(staging_url: str, warehouse_url: str) -> list[str]:
    found = []
    if not pgtools.is_empty(staging_url):
        found.append("the staging database")
    if _engine(warehouse_url) == "duckdb":
        path = _duckdb_path(warehouse_url)
        if path.exists() and path.stat().st_size > 0:
            found.append(f"the warehouse file {path}")
    elif not pgtools.is_empty(warehouse_url):
        found.append("the warehouse database")
    return found


def restore(folder: Path, staging_url: str, warehouse_url: str, *, force: bool = False) -> Restored:
    """Restore the backup in `folder` into `staging_url` and `warehouse_url`; refuses non-empty targets unless
    `force` (which empties them first)."""
    manifest = Manifest.read(folder)
    engine = _engine(warehouse_url)
    if engine != manifest.warehouse_engine:
        raise FerryError(errors.BACKUP_UNREADABLE, f"{folder} holds a {manifest.warehouse_engine} warehouse but "
                         f"the configured warehouse is {engine}: set FERRY_WAREHOUSE_URL to a "
                         f"{manifest.warehouse_engine} one")
    occupied = _occupied(staging_url, warehouse_url)
    if occupied and not force:
        raise FerryError(errors.RESTORE_TARGET_NOT_EMPTY, f"{' and '.join(occupied)} already hold data: restore "
                         "into empty ones, or pass --force to replace what they hold")
    if force:
        pgtools.clear(staging_url)
    pgtools.load(staging_url, folder / STAGING_DUMP, "staging")
    if engine == "duckdb":
        path = _duckdb_path(warehouse_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(folder / WAREHOUSE_FILE, path)
    else:
        if force:
            pgtools.clear(warehouse_url)
        pgtools.load(warehouse_url, folder / manifest.warehouse_file, "the warehouse")
    return Restored(manifest, staging_url, warehouse_url, _move_identity(manifest, staging_url, warehouse_url))


def _warehouse_uuid(stable_id: str) -> str:
    """The UUID kept inside the warehouse: `uuid@path` (DuckDB), `uuid/database` (PostgreSQL)."""
    return stable_id.split("@", 1)[0].split("/", 1)[0]


def _move_identity(manifest: Manifest, staging_url: str, warehouse_url: str) -> bool:
    """Point staging's recorded warehouse at the restored one, which holds the same id as the one backed up."""
    if manifest.claimed_identity is None:
        return False  # no sync had claimed a warehouse yet: the first one will
    warehouse = open_warehouse(warehouse_url)
    try:
        mine = warehouse.identity()
    finally:
        warehouse.close()
    if _warehouse_uuid(mine.stable_id) != _warehouse_uuid(manifest.warehouse_identity):
        raise FerryError(errors.WAREHOUSE_MISMATCH, f"the restored warehouse's id ({mine.stable_id}) is not the one "
                         f"backed up ({manifest.warehouse_identity})")
    with psycopg.connect(staging_url, connect_timeout=10) as conn:
        conn.execute("UPDATE ferry.warehouse_identity SET engine = %s, identity = %s, display = %s, "
                     "claimed_at = clock_timestamp(), claimed_by = %s",
                     (mine.engine, mine.stable_id, mine.display, f"ferry restore of a backup of {manifest.created_at}"))
    return True
