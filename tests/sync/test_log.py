"""The staging log: a held-open transaction holds the horizon back, the sync never writes a staged row."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
import pytest

from ferry.config import Settings
from ferry.ingest import Method
from ferry.staging import StagingDatabase, write_calls
from ferry.sync import run_once
from ferry.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import SCHEMA_ID, call, item_schema, reset, with_batch


def _states(db: StagingDatabase) -> list[tuple[str, str | None, str]]:
    """(email, a, state) of every staged row, in `_seq` order."""
    with db.pool.connection() as conn:
        return [(str(e), a, str(s)) for e, a, s in
                conn.execute("SELECT email, a, _state FROM ferry.rows_tst_item ORDER BY _seq")]


def _emails(warehouse: Warehouse, db: StagingDatabase) -> list[str]:
    return sorted(str(r["email"]) for r in warehouse.read(item_schema(db)))


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_a_held_open_low_seq_transaction_holds_back_later_rows_until_it_commits(
        engine: str, staging: tuple[StagingDatabase, Settings], warehouses: dict[str, Warehouse]) -> None:
    db, settings = staging
    warehouse = warehouses[engine]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k", "a": "first"}, "@email", None))])
    assert run_once(db, warehouse, SCHEMA_ID, settings).counts["read"] == 1
    # A call takes its `_seq` through the ordinary write function and does not commit yet.
    late = call(db, Method.INGEST_EXT, ({"email": "k", "a": "late"}, "@email", None),
                ({"email": "late"}, "@email", None))
    with psycopg.connect(db.url) as held:
        write_calls(held, db.registry, [late])
        # Later calls commit around it; one of them updates the same key, so order matters.
        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k", "a": "after"}, "@email", None))])
        db.store.stage([call(db, Method.INGEST, ({"email": "after2"}, None, None))])
        for _ in range(2):
            result = run_once(db, warehouse, SCHEMA_ID, settings)
            assert result.state == "succeeded" and result.counts["read"] == 0, result
        assert _emails(warehouse, db) == ["k"]
        # The held rows are not visible yet; the ones committed after them wait behind them.
        assert _states(db) == [("k", "first", "synced"), ("k", "after", "staged"), ("after2", None, "staged")]
        held.commit()
    result = run_once(db, warehouse, SCHEMA_ID, with_batch(settings, 2))
    assert result.state == "succeeded" and result.counts["read"] == 4 and result.counts["skipped"] == 0
    # The late call is applied in its `_seq` place: before the update that committed after it.
    [record] = [r for r in warehouse.read(item_schema(db)) if r["email"] == "k"]
    assert record["a"] == "after"
    assert _emails(warehouse, db) == ["after2", "k", "late"]
    assert _states(db) == [("k", "first", "synced"), ("k", "late", "synced"), ("late", None, "synced"),
                           ("k", "after", "synced"), ("after2", None, "synced")]


def test_the_sync_writes_no_staging_row(staging: tuple[StagingDatabase, Settings],
                                        warehouses: dict[str, Warehouse]) -> None:
    """Per batch the sync writes O(1) rows of its own bookkeeping and none of the log: no update, no delete, no
    dead tuple on the staging table (the old layout updated every row twice)."""
    db, settings = staging
    warehouse = warehouses["duckdb"]
    reset(db, warehouse)
    staged = 600
    db.store.stage([call(db, Method.INGEST_EXT, *[({"email": f"w{i % 400}", "b": str(i)}, "@email", None)
                                                  for i in range(staged)])])
    result = run_once(db, warehouse, SCHEMA_ID, with_batch(settings, 50))
    assert result.state == "succeeded" and result.counts["read"] == staged and result.batches == 12
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        deadline = time.monotonic() + 30
        while True:
            # Other backends flush their counters when idle (within ~10 s): wait until the inserts show.
            # The log's partitions (the partitioned parent itself keeps no counters).
            row = conn.execute("SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0), "
                               "coalesce(sum(n_tup_del), 0), coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables "
                               "WHERE relid IN (SELECT inhrelid FROM pg_inherits "
                               "WHERE inhparent = 'ferry_stg.tst_item'::regclass)").fetchone()
            assert row is not None
            if row[0] >= staged or time.monotonic() > deadline:
                break
            time.sleep(0.5)
            conn.execute("SELECT pg_stat_clear_snapshot()")
    inserted, updated, deleted, dead = row
    assert inserted >= staged
    assert updated + deleted == 0 and dead == 0
    with db.pool.connection() as conn:
        batches = conn.execute("SELECT count(*) FROM ferry.log_batches WHERE schema_id = %s", (SCHEMA_ID,)).fetchone()
    assert batches == (12,)


def test_a_batch_is_one_range_bounded_by_rows_and_bytes(staging: tuple[StagingDatabase, Settings]) -> None:
    from ferry.sync import batches

    db, _settings = staging
    reset(db)
    db.store.stage([call(db, Method.INGEST, *[({"email": f"r{i}", "note": "x" * 2000}, None, None)
                                              for i in range(10)])])
    with db.pool.connection() as conn:
        seqs = [int(r[0]) for r in conn.execute("SELECT _seq FROM ferry_stg.tst_item ORDER BY _seq").fetchall()]
    reader = batches.BatchReader(db.url)
    try:
        whole = reader.read(item_schema(db), seqs[0] - 1, seqs[-1] + 5, 100, 1 << 30)
        assert whole is not None
        bound = int(whole.rows.nbytes / whole.rows.num_rows * 2.5)  # Arrow bytes: rows 1-3 start under it
        by_rows = reader.read(item_schema(db), seqs[0] - 1, seqs[-1] + 5, 4, 1 << 30)
        by_bytes = reader.read(item_schema(db), seqs[0] - 1, seqs[-1] + 5, 100, bound)
        fresh = batches.BatchReader(db.url)  # no row size learnt yet: the stream itself stops at the bound
        try:
            streamed = fresh.read(item_schema(db), seqs[0] - 1, seqs[-1] + 5, 100, bound, every_column=True)
        finally:
            fresh.close()
        tiny = reader.read(item_schema(db), seqs[0] - 1, seqs[-1] + 5, 100, 1)
        empty = reader.read(item_schema(db), seqs[-1], seqs[-1] + 5, 100, 1 << 30)
    finally:
        reader.close()
    assert whole.rows.num_rows == 10 and whole.last_seq == seqs[-1] + 5  # up to the horizon
    assert by_rows is not None and by_rows.rows.num_rows == 4 and by_rows.last_seq == seqs[3]
    # The rows that start under the byte bound, then the batch ends at its last row.
    assert by_bytes is not None and by_bytes.rows.num_rows == 3 and by_bytes.last_seq == seqs[2]
    assert streamed is not None and 1 <= streamed.rows.num_rows < 10
    assert streamed.last_seq == seqs[streamed.rows.num_rows - 1]
    assert tiny is not None and tiny.rows.num_rows == 1 and tiny.last_seq == seqs[0]  # the first row always comes
    assert empty is None
    assert by_bytes.rows.column_names[:5] == ["_seq", "_uuid", "_op", "_key", "_present"]


def test_a_process_first_run_finds_the_partitions_made_ahead_in_one_read(
        staging: tuple[StagingDatabase, Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process (no partition bound remembered) skips making partitions when earlier runs made them ahead."""
    from ferry.staging import partitions
    from ferry.sync import workflow

    db, _ = staging
    schema = item_schema(db)
    with db.pool.connection() as conn:
        partitions.ensure(conn, schema)  # what an earlier process left
        monkeypatch.setattr(workflow, "_partitions_ready", {})
        made: list[str] = []
        monkeypatch.setattr(partitions, "ensure", lambda conn, schema: made.append(schema.id) or [])
        workflow._ensure_partitions(db, conn, schema, 0)
        assert made == []
        # Past what is made ahead, they are made.
        workflow._ensure_partitions(db, conn, schema, partitions.partitions(conn, schema)[-1][2])
        assert made == [schema.id]
