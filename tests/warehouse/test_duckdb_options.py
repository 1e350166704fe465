"""DuckDB settings carried by the warehouse URL (memory bound for large warehouses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import FerryError
from ferry.warehouse import open_warehouse
from ferry.warehouse.duckdb_wh import DuckDBWarehouse


def test_memory_limit_and_threads_reach_duckdb(tmp_path: Path) -> None:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=128MB&threads=1")
    try:
        assert isinstance(warehouse, DuckDBWarehouse)
        limit, threads = warehouse.select("SELECT current_setting('memory_limit'), current_setting('threads')", [])[0]
        assert limit.endswith("MiB") and float(limit.split()[0]) < 130
        assert int(threads) == 1
    finally:
        warehouse.close()
    assert (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize(("threshold", "checkpointed"), [("1KiB", True), ("1GiB", False)])
def test_checkpoint_threshold_reaches_duckdb(tmp_path: Path, threshold: str, checkpointed: bool) -> None:
    """A commit whose WAL passes the threshold checkpoints it into the file; below it the changes stay in the WAL."""
    path = tmp_path / "w.duckdb"
    warehouse = open_warehouse(f"duckdb:///{path}?checkpoint_threshold={threshold}")
    try:
        assert isinstance(warehouse, DuckDBWarehouse)
        with warehouse._lock:
            warehouse._con.execute("CREATE TABLE t AS SELECT range AS n, repeat('x', 40) AS s FROM range(2000)")
            warehouse._con.execute("UPDATE t SET s = repeat('y', 40) || n")  # an update always goes through the WAL
        wal = Path(str(path) + ".wal")
        assert (not wal.exists() or wal.stat().st_size == 0) is checkpointed
    finally:
        warehouse.close()


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FerryError) as caught:
        open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}?memroy_limit=1GB")
    assert caught.value.code.code == "FRY-500002" and "memroy_limit" in caught.value.message
