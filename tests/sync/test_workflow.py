"""The workflow around the apply: poison rows, outages, run records, retention purge, the scheduler."""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.ingest import Method
from ferry.schema.model import Schema
from ferry.staging import StagingDatabase
from ferry.sync import purge, run_once, runs, workflow
from ferry.warehouse import Warehouse, open_warehouse
from ferry.warehouse.base import BatchOutcome
from ferry.workflows import Scheduler, last_success, list_runs, sync_metrics

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import SCHEMA_ID, call, item_schema, pg_url, reset

POISON_COLUMNS = ('"id" VARCHAR(36), "email" VARCHAR(64), "a" VARCHAR(16), "b" INTEGER, "n" INTEGER, '
                  '"note" {note}, "flag" BOOLEAN, "seen" TIMESTAMPTZ, "created" TIMESTAMPTZ, '
                  '"lastModified" TIMESTAMPTZ')


def _states(db: StagingDatabase) -> dict[str, tuple[str, str | None]]:
    with db.pool.connection() as conn:
        rows = conn.execute("SELECT email, _state, _reason FROM ferry.rows_tst_item ORDER BY _seq").fetchall()
    return {email: (state, reason) for email, state, reason in rows}


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_poison_row_fails_alone(engine: str, staging: tuple[StagingDatabase, Settings],
                                new_database: Callable[[], str], tmp_path: Path) -> None:
    db, settings = staging
    reset(db)
    # A warehouse whose `note` column is narrower than staging's memo: one value will not fit.
    if engine == "duckdb":
        path = tmp_path / "poison.duckdb"
        with duckdb.connect(str(path)) as con:
            note = "VARCHAR CHECK (length(note) <= 5)"
            con.execute(f"CREATE TABLE tst_item ({POISON_COLUMNS.format(note=note)})")
        url = f"duckdb:///{path}"
    else:
        url = pg_url(new_database())
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE tst_item ({POISON_COLUMNS.format(note='varchar(5)')})")
    rows = [({"email": f"m{i}", "note": "ok"}, None, None) for i in range(9)]
    rows[4] = ({"email": "m4", "note": "far too long"}, None, None)
    db.store.stage([call(db, Method.INGEST, *rows)])
    warehouse = open_warehouse(url)
    try:
        result = run_once(db, warehouse, SCHEMA_ID, settings, retries=0)
        assert result.state == "succeeded", result.error
        assert result.counts["failed"] == 1 and result.counts["inserted"] == 8
        states = _states(db)
        assert states["m4"][0] == "failed"
        reason = states["m4"][1] or ""
        assert ("CHECK constraint failed" if engine == "duckdb" else "value too long") in reason, reason
        assert len(reason) < 300
        assert {e for e, (s, _) in states.items() if s == "synced"} == {f"m{i}" for i in range(9)} - {"m4"}
        assert sorted(r["email"] for r in warehouse.read(item_schema(db))) == sorted(
            f"m{i}" for i in range(9) if i != 4)
    finally:
        warehouse.close()


class FlakyWarehouse(Warehouse):
    """A DuckDB warehouse whose first `failures` applies find the engine unreachable."""

    def __init__(self, inner: Warehouse, failures: int) -> None:
        self.inner, self.failures, self.url = inner, failures, inner.url

    def apply_batch(self, schema: Schema, batch_id: str, batch: pa.Table, hook: Any = None,
                    span: Any = None) -> BatchOutcome:
        if self.failures > 0:
            self.failures -= 1
            raise FerryError(errors.WAREHOUSE_UNAVAILABLE, "duckdb warehouse unavailable: connection refused")
        return self.inner.apply_batch(schema, batch_id, batch, hook, span)

    def ensure_table(self, schema: Schema) -> None:
        self.inner.ensure_table(schema)

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        return self.inner.batch_applied(batch_id)

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        return self.inner.read(schema)

    def truncate(self, schema: Schema) -> None:
        self.inner.truncate(schema)

    def close(self) -> None:
        self.inner.close()

    def _begin(self) -> Any:
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> Any:
        raise NotImplementedError


def test_outage_is_retried_then_recorded(staging: tuple[StagingDatabase, Settings],
                                         warehouses: dict[str, Warehouse]) -> None:
    db, settings = staging
    inner = warehouses["duckdb"]
    reset(db, inner)
    db.store.stage([call(db, Method.INGEST, ({"email": "o1"}, None, None), ({"email": "o2"}, None, None))])

    down = FlakyWarehouse(inner, failures=10)
    failed = run_once(db, down, SCHEMA_ID, settings, retries=2, backoff=0.01)
    assert failed.state == "failed" and failed.error and errors.WAREHOUSE_UNAVAILABLE.code in failed.error
    assert set(s for s, _ in _states(db).values()) == {"staged"}
    [metrics] = [m for m in sync_metrics(db) if m.schema_id == SCHEMA_ID]
    assert metrics.last_state == "failed" and metrics.last_error == failed.error
    assert metrics.counts["staged"] == 2 and metrics.lag_seconds > 0

    flaky = FlakyWarehouse(inner, failures=2)
    recovered = run_once(db, flaky, SCHEMA_ID, settings, retries=3, backoff=0.01)
    assert recovered.state == "succeeded", recovered.error
    assert set(s for s, _ in _states(db).values()) == {"synced"}
    assert len(inner.read(item_schema(db))) == 2


def test_each_run_is_recorded(staging: tuple[StagingDatabase, Settings], warehouses: dict[str, Warehouse]) -> None:
    db, settings = staging
    warehouse = warehouses["postgresql"]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "r1"}, "@email", None), ({"email": "r1"}, "@email",
                                                                                  "insert"),
                         ({"email": "r9"}, "@email", "update"), ({"email": "r1"}, "@email", "delete"))])
    result = run_once(db, warehouse, SCHEMA_ID, settings)
    [run] = list_runs(db.pool, SCHEMA_ID)
    assert run["id"] == result.run_id and run["workflow"] == "ffdaReplicateStagingData"
    assert run["state"] == "succeeded" and run["ended_at"] >= run["started_at"]
    assert (run["rows_read"], run["rows_inserted"], run["rows_updated"], run["rows_deleted"], run["rows_skipped"],
            run["rows_failed"]) == (4, 1, 0, 1, 2, 0)
    assert last_success(db.pool, SCHEMA_ID) == run["ended_at"]
    with pytest.raises(FerryError) as caught:
        run_once(db, warehouse, "tst:nothing", settings)
    assert caught.value.code is errors.SYNC_UNKNOWN_SCHEMA


def test_busy_schema_is_skipped(staging: tuple[StagingDatabase, Settings], warehouses: dict[str, Warehouse]) -> None:
    db, settings = staging
    reset(db, warehouses["duckdb"])
    with psycopg.connect(db.url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (0x46455253, SCHEMA_ID))
        result = run_once(db, warehouses["duckdb"], SCHEMA_ID, settings)
    assert result.state == "skipped"


def test_purge_keeps_a_partition_holding_a_staged_row(staging: tuple[StagingDatabase, Settings],
                                                     warehouses: dict[str, Warehouse]) -> None:
    """Retention drops whole partitions (see test_retention.py); one staged row keeps its partition whole."""
    db, settings = staging
    warehouse = warehouses["duckdb"]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "p1"}, "@email", None), ({"email": "p2"}, "@email",
                                                                                  "update"))])
    run_once(db, warehouse, SCHEMA_ID, settings)
    db.store.stage([call(db, Method.INGEST, ({"email": "p4"}, None, None))])
    with db.pool.connection() as conn:
        conn.execute("UPDATE ferry.log_batches SET done_at = now() - interval '8 days'")
    idle_before = runs.idle_counts().get(("ferryPurgeStagingData", "", "empty"), 0)
    recorded_before = len(list_runs(db.pool, workflow="ferryPurgeStagingData"))
    result = purge(db, settings)
    assert result.state == "succeeded" and result.counts["purged"] == 0
    assert {e: s for e, (s, _) in _states(db).items()} == {"p1": "synced", "p2": "skipped", "p4": "staged"}
    # A pass that dropped nothing is counted, not recorded (one a minute in continuous mode would bury the rest).
    assert len(list_runs(db.pool, workflow="ferryPurgeStagingData")) == recorded_before
    assert runs.idle_counts().get(("ferryPurgeStagingData", "", "empty"), 0) == idle_before + 1


def test_scheduler_runs_on_interval_and_on_demand(staging: tuple[StagingDatabase, Settings],
                                                  warehouses: dict[str, Warehouse]) -> None:
    import dataclasses
    import time

    db, settings = staging
    warehouse = warehouses["duckdb"]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST, ({"email": "s1"}, None, None))])
    scheduler = Scheduler(db, warehouse, settings)
    try:
        [run_id] = scheduler.trigger(SCHEMA_ID)
        [result] = scheduler.wait([run_id], timeout=60)
        assert result.run_id == run_id and result.state == "succeeded" and result.counts["inserted"] == 1
    finally:
        scheduler.stop()
    db.store.stage([call(db, Method.INGEST, ({"email": "s2"}, None, None))])
    periodic = Scheduler(db, warehouse, dataclasses.replace(settings, sync_interval=1))
    periodic.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _states(db).get("s2", ("staged",))[0] == "staged":
            time.sleep(0.1)
    finally:
        periodic.stop()
    assert _states(db)["s2"][0] == "synced"
    # The schedule ran every staged schema; nms:recipient had nothing to read: counted, not recorded (issue 24).
    assert SCHEMA_ID in {r["schema_id"] for r in list_runs(db.pool)}
    assert "nms:recipient" not in {r["schema_id"] for r in list_runs(db.pool)}
    assert runs.idle_counts().get(("ffdaReplicateStagingData", "nms:recipient", "empty"), 0) >= 1


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
@pytest.mark.parametrize("batch_rows", [2, 1000])
def test_a_following_run_goes_on_past_its_horizon_in_order(engine: str, batch_rows: int,
                                                          staging: tuple[StagingDatabase, Settings],
                                                          warehouses: dict[str, Warehouse]) -> None:
    """Rows committed while a run applies are synced by the same run when `follow` says so, in commit order,
    each once, in contiguous batches (the ledger's ids stay the ones a crash recovery computes)."""
    db, settings = staging
    warehouse = warehouses[engine]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k", "a": "v0", "n": 0}, "@email", "insertOrUpdate"),
                         ({"email": "gone", "n": 0}, "@email", "insertOrUpdate"))])
    # Each time the run reaches its horizon, one more call lands (an update of the same key, then a delete).
    later = [call(db, Method.INGEST_EXT, ({"email": "k", "a": f"v{i}", "n": i}, "@email", "insertOrUpdate"),
                  ({"email": f"new{i}", "n": i}, None, "insert")) for i in range(1, 4)]
    later.append(call(db, Method.INGEST_EXT, ({"email": "gone"}, "@email", "delete")))
    asked = 0

    def follow() -> bool:
        nonlocal asked
        asked += 1
        if not later:
            return False
        db.store.stage([later.pop(0)])
        return True

    result = run_once(db, warehouse, SCHEMA_ID, dataclasses.replace(settings, batch_rows=batch_rows),
                      follow=follow)
    assert result.state == "succeeded", result.error
    assert not later and asked >= 5
    assert result.counts["read"] == 2 + 3 * 2 + 1
    assert len(list_runs(db.pool, SCHEMA_ID)) == 1
    rows = {r["email"]: r for r in warehouse.read(item_schema(db))}
    assert set(rows) == {"k", "new1", "new2", "new3"}
    assert (rows["k"]["a"], rows["k"]["n"]) == ("v3", 3)
    assert set(s for s, _ in _states(db).values()) == {"synced"}
    with db.pool.connection() as conn:
        spans = conn.execute("SELECT first_seq, last_seq FROM ferry.log_batches WHERE schema_id = %s "
                             "ORDER BY first_seq", (SCHEMA_ID,)).fetchall()
    assert len(spans) >= 2 and all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
    # Nothing left: a run without `follow` reads nothing more.
    again = run_once(db, warehouse, SCHEMA_ID, settings)
    assert again.state == "succeeded" and not again.counts["read"]


def test_a_backlog_is_applied_in_batches_of_the_warehouse_granularity(staging: tuple[StagingDatabase, Settings],
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """A DuckDB warehouse asking for batches of 8 rows, batch bound 20 (a first batch of 4), 60 rows staged in calls
    of 3: after the run's first batch, each holds 8 to 20 rows (the last one what is left); every row synced, once."""
    db, settings = staging
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'granules.duckdb'}")
    try:
        monkeypatch.setattr(warehouse, "batch_granularity", 8)
        monkeypatch.setattr(workflow, "FIRST_BATCH_FROM", 1)
        reset(db, warehouse)
        for start in range(0, 60, 3):
            db.store.stage([call(db, Method.INGEST, *(({"email": f"g{i}"}, None, None)
                                                       for i in range(start, start + 3)))])
        result = run_once(db, warehouse, SCHEMA_ID, dataclasses.replace(settings, batch_rows=20))
        assert result.state == "succeeded", result.error
        assert result.counts["inserted"] == 60
        with db.pool.connection() as conn:
            spans = conn.execute("SELECT first_seq, last_seq, row_count FROM ferry.log_batches WHERE schema_id = %s "
                                 "ORDER BY first_seq", (SCHEMA_ID,)).fetchall()
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
        assert sum(count for _, _, count in spans) == 60
        assert all(8 <= count <= 20 for _, _, count in spans[1:-1])
        assert {r["email"] for r in warehouse.read(item_schema(db))} == {f"g{i}" for i in range(60)}
    finally:
        warehouse.close()
