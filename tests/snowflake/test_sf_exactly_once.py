"""Snowflake exactly once: a sync worker killed at each step between claim and mark, and a poison row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sf_helpers import expected_states, model_records, row_states, stage_workload, sync, warehouse_records
from sync_helpers import SCHEMA_ID, call, item_schema, open_staging

from ferry.ingest import Method
from ferry.staging import outcomes
from ferry.sync import run_once
from ferry.sync.faults import STEPS
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse

WORKER = str(Path(__file__).parent.parent / "sync" / "sync_worker.py")


@pytest.mark.parametrize("step", [s for s in STEPS if s != "after_copy"])
def test_crash_at_each_step_applies_exactly_once(step: str, new_database: Callable[[], str],
                                                 snowflake_url: str, tmp_path: Path) -> None:
    staging_url = new_database()
    db, settings = open_staging(staging_url, tmp_path / "data", batch_rows=7)
    try:
        staged = stage_workload(db)
        proc = subprocess.Popen([sys.executable, WORKER, staging_url, snowflake_url, "7"],
                                env={**os.environ, "FERRY_SYNC_CRASH_AT": step},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == -signal.SIGKILL, err
        with db.pool.connection() as conn:
            horizon = outcomes.applied_horizon(conn, SCHEMA_ID)
            first = outcomes.batch_id(outcomes.log_identity(conn), SCHEMA_ID, horizon + 1)
        assert horizon == 0  # the killed worker recorded nothing in staging
        warehouse = open_warehouse(snowflake_url)
        try:
            applied = warehouse.batch_applied(first)
            assert (applied is not None) == (step in ("after_commit", "before_copy"))
            result = run_once(db, warehouse, SCHEMA_ID, settings, retries=0)
            assert result.state == "succeeded", result.error
            model, expected = expected_states(db, staged)
            assert row_states(db) == expected
            assert warehouse_records(warehouse, db) == model_records(model)
            assert "failed" in {state for state, _ in expected.values()}  # the workload meets duplicated keys
        finally:
            warehouse.close()
    finally:
        db.close()


def test_poison_row_is_isolated(new_database: Callable[[], str], snowflake_url: str, tmp_path: Path) -> None:
    """A value the warehouse rejects (its column was narrowed outside ferry) fails alone; its neighbours sync."""
    db, settings = open_staging(new_database(), tmp_path / "data")
    warehouse = open_warehouse(snowflake_url)
    try:
        assert isinstance(warehouse, SnowflakeWarehouse)
        schema = item_schema(db)
        warehouse._run('CREATE TABLE "tst_item" ("id" VARCHAR(36), "email" VARCHAR(64), "b" NUMBER(2,0))')
        rows = [({"email": f"p{i}", "b": str(500 if i == 3 else i)}, None, None) for i in range(6)]
        db.store.stage([call(db, Method.INGEST, *rows)])
        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "p1", "b": "7"}, "@email", None))])
        sync(db, warehouse, settings, 1000)
        with db.pool.connection() as conn:
            states = conn.execute("SELECT email, _op, _state, _reason FROM ferry.rows_tst_item "
                                  "ORDER BY _seq").fetchall()
        assert [s[2] for s in states] == ["synced"] * 3 + ["failed"] + ["synced"] * 3
        assert states[3][3]  # the warehouse's own message
        got = {r["email"]: r["b"] for r in warehouse.read(schema)}
        assert got == {"p0": 0, "p1": 7, "p2": 2, "p4": 4, "p5": 5}
        again = run_once(db, warehouse, SCHEMA_ID, settings, retries=0)
        assert again.state == "succeeded" and again.counts["read"] == 0
    finally:
        warehouse.close()
        db.close()
