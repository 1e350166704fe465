"""`ferry sync` while `ferry serve` holds the DuckDB warehouse: the server's scheduler runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from ferry.config import Settings
from ferry.session import Session


def test_ferry_sync_is_relayed_to_the_running_server(
    new_database: Callable[[], str], tmp_path: Path, launch: tuple[Callable[..., object], Callable[[object], int]]
) -> None:
    start, stop = launch
    db_url = new_database()
    server = start(db_url, tmp_path)
    try:
        with Session.open(Settings.from_env(database_url=db_url, data_dir=tmp_path / "data")) as session:
            session.ingest({"xtkschema": "dem:sampleTable", "testcol1": "relayed"})
        env = {**os.environ, "FERRY_DATABASE_URL": db_url, "COLUMNS": "200",
               "FERRY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}"}
        result = subprocess.run([sys.executable, "-m", "ferry.cli", "sync", "dem:sampleTable", "--wait"],
                                env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "running `ferry serve`" in result.stdout
        assert "succeeded" in result.stdout
        with psycopg.connect(db_url) as conn:
            states = conn.execute("SELECT _state FROM ferry.rows_dem_sampletable").fetchall()
            request = conn.execute("SELECT taken_at IS NOT NULL, cardinality(run_ids) FROM ferry.sync_requests"
                                   ).fetchone()
        assert states == [("synced",)]
        assert request == (True, 1)
    finally:
        stop(server)
