"""Exactly once: a sync killed at every step between reading a batch and recording it, and two concurrent workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ferry.ingest import Method
from ferry.staging import StagingDatabase, outcomes
from ferry.sync import run_once
from ferry.sync.faults import STEPS
from ferry.warehouse import Warehouse, open_warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import Model, call, item_schema, open_staging, pg_url

WORKER = str(Path(__file__).parent / "sync_worker.py")


def stage_workload(db: StagingDatabase, calls: int = 12) -> list[object]:
    """Keyless inserts (a duplicate apply would show), keyed upserts, updates and deletes, in collections."""
    staged = []
    for i in range(calls):
        email = f"e{i % 4}"
        built = [
            call(db, Method.INGEST, ({"email": email, "note": f"n{i}"}, None, None), ({"email": email}, None, None)),
            call(db, Method.INGEST_EXT, ({"email": email, "b": str(i)}, "@email", None),
                 ({"email": f"e{(i + 1) % 4}", "a": "x"}, "@email", "update")),
        ]
        if i % 5 == 4:
            built.append(call(db, Method.INGEST_EXT, ({"email": email}, "@email", "delete")))
        for one in built:
            db.store.stage([one])
        staged.extend(built)
    return staged


def assert_matches_model(db: StagingDatabase, warehouse: Warehouse, staged: list[object]) -> None:
    """Warehouse and row states equal the sequential model; every row is done."""
    model = Model(item_schema(db))
    expected = {}
    for built in staged:
        for op in built.operations:  # type: ignore[attr-defined]
            expected[str(op.uuid)] = model.apply(op)
    with db.pool.connection() as conn:
        actual = {str(u): (s, r) for u, s, r in conn.execute("SELECT _uuid, _state, _reason FROM ferry.rows_tst_item")}
        pending = conn.execute("SELECT count(*) FROM ferry.rows_tst_item WHERE _state = 'staged'").fetchone()
    assert actual == expected
    assert pending == (0,)
    names = item_schema(db).attribute_names
    got = sorted((tuple(r[n] for n in names) for r in warehouse.read(item_schema(db))), key=repr)
    assert got == sorted((tuple(r[n] for n in names) for r in model.records), key=repr)


def _worker(staging_url: str, warehouse_url: str, rows: int, env: dict[str, str], loop: bool = False
            ) -> subprocess.Popen[str]:
    args = [sys.executable, WORKER, staging_url, warehouse_url, str(rows)] + (["loop"] if loop else [])
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
@pytest.mark.parametrize("step", [s for s in STEPS if s != "after_copy"])
def test_crash_at_each_step_applies_exactly_once(step: str, engine: str, new_database: Callable[[], str],
                                                 tmp_path: Path) -> None:
    staging_url = new_database()
    warehouse_url = f"duckdb:///{tmp_path / 'w.duckdb'}" if engine == "duckdb" else pg_url(new_database())
    db, settings = open_staging(staging_url, tmp_path / "data", batch_rows=7)
    try:
        staged = stage_workload(db)
        proc = _worker(staging_url, warehouse_url, 7, {"FERRY_SYNC_CRASH_AT": step})
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (out, err[-3000:])
        with db.pool.connection() as conn:
            applied = outcomes.applied_horizon(conn, "tst:item")
            first = outcomes.batch_id(outcomes.log_identity(conn), "tst:item", applied + 1)
        assert applied == 0  # the killed worker recorded nothing in staging
        warehouse = open_warehouse(warehouse_url)
        try:
            # Committed in the warehouse (or not) exactly as the step says; staging learns it from the ledger.
            assert (warehouse.batch_applied(first) is not None) == (step in ("after_commit", "before_copy"))
            result = run_once(db, warehouse, "tst:item", settings, retries=0)
            assert result.state == "succeeded", result.error
            assert_matches_model(db, warehouse, staged)
        finally:
            warehouse.close()
    finally:
        db.close()


def test_two_concurrent_workers_no_duplicate_no_loss(new_database: Callable[[], str], tmp_path: Path) -> None:
    staging_url = new_database()
    warehouse_url = pg_url(new_database())
    db, _settings = open_staging(staging_url, tmp_path / "data")
    try:
        staged = stage_workload(db, calls=60)
        open_warehouse(warehouse_url).close()  # create the ledger before both workers race for it
        workers = [_worker(staging_url, warehouse_url, 9, {}, loop=True) for _ in range(2)]
        for proc in workers:
            _out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
        warehouse = open_warehouse(warehouse_url)
        try:
            assert_matches_model(db, warehouse, staged)
        finally:
            warehouse.close()
        with db.pool.connection() as conn:
            states = dict(conn.execute("SELECT state, count(*) FROM ferry.workflow_runs GROUP BY state").fetchall())
        assert "failed" not in states
        assert states.get("succeeded", 0) >= 1
    finally:
        db.close()


def test_threads_sharing_one_duckdb_warehouse(new_database: Callable[[], str], tmp_path: Path) -> None:
    """Two threads (one process, one DuckDB file): the schema lock serialises them; nothing lost or doubled."""
    import threading

    db, settings = open_staging(new_database(), tmp_path / "data", batch_rows=5)
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        staged = stage_workload(db, calls=20)
        errors: list[str] = []

        def work() -> None:
            for _ in range(200):
                result = run_once(db, warehouse, "tst:item", settings, retries=0)
                if result.state == "failed":
                    errors.append(result.error or "")
                    return
                if result.state == "succeeded" and result.counts["read"] == 0:
                    return

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        run_once(db, warehouse, "tst:item", settings, wait=True)
        assert_matches_model(db, warehouse, staged)
    finally:
        warehouse.close()
        db.close()

