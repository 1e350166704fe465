"""Retention drops whole partitions of the log: only when every row in it is applied, old enough, and none is an
open failed row; a failed row's columns survive the drop, so it can still be re-queued."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ferry.ingest import Method
from ferry.server.console import queries
from ferry.staging import StagingDatabase, partitions
from ferry.sync import purge, run_once
from ferry.warehouse import open_warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import SCHEMA_ID, call, item_schema, open_staging


def _parts(db: StagingDatabase) -> list[tuple[int, int]]:
    with db.pool.connection() as conn:
        return [(low, high) for _n, low, high in partitions.partitions(conn, item_schema(db))]


def _state(db: StagingDatabase, email: str) -> str | None:
    with db.pool.connection() as conn:
        row = conn.execute("SELECT _state FROM ferry.rows_tst_item WHERE email = %s ORDER BY _seq DESC LIMIT 1",
                           (email,)).fetchone()
    return None if row is None else str(row[0])


def test_a_partition_is_dropped_only_when_all_its_rows_are_applied(new_database: Callable[[], str], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "SPAN", 4)
    db, settings = open_staging(new_database(), tmp_path / "data")
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        assert _parts(db) == [(1, 5), (5, 9)]
        # _seq 1-4: applied; 5-8: applied, with b3 failed; 9-10: staged after the sync.
        db.store.stage([call(db, Method.INGEST_EXT, *[({"email": f"a{i}"}, "@email", None) for i in range(4)])])
        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "b0"}, "@email", None),
                             ({"email": "b1"}, "@email", "update"), ({"email": "b2"}, "@email", None),
                             ({"email": "b3", "a": "x"}, "@email", None))])
        assert run_once(db, warehouse, SCHEMA_ID, settings).counts["read"] == 8
        assert (9, 13) in _parts(db)  # made ahead of the sequence by the run
        db.store.stage([call(db, Method.INGEST, ({"email": "c0"}, None, None), ({"email": "c1"}, None, None))])
        b3 = None
        with db.pool.connection() as conn:
            row = conn.execute("SELECT _seq, _uuid FROM ferry_stg.tst_item WHERE email = 'b3'").fetchone()
            assert row is not None
            b3 = uuid.UUID(str(row[1]))
            # As if the warehouse had refused b3 (its exception, with its columns, as the sync records it).
            conn.execute("INSERT INTO ferry.log_exceptions (schema_id, seq, row_uuid, state, reason, payload) "
                         "SELECT 'tst:item', _seq, _uuid, 'failed', 'refused', to_jsonb(t) FROM ferry_stg.tst_item t "
                         "WHERE email = 'b3'")
        assert purge(db, settings).counts["purged"] == 0  # applied, but not older than the retention yet
        with db.pool.connection() as conn:
            conn.execute("UPDATE ferry.log_batches SET done_at = now() - interval '8 days'")
        result = purge(db, settings)
        assert result.state == "succeeded" and result.counts["purged"] == 4
        assert (1, 5) not in _parts(db) and (5, 9) in _parts(db) and (9, 13) in _parts(db)
        assert [_state(db, e) for e in ("a0", "b0", "b1", "b3", "c0")] == [None, "synced", "skipped", "failed",
                                                                           "staged"]
        # Once an operator discards b3, its partition may go; b3 stays failed (its exception keeps the columns).
        schema = item_schema(db)
        queries.discard(db, schema, b3, "root", None)
        assert purge(db, settings).counts["purged"] == 4
        assert (5, 9) not in _parts(db) and _state(db, "c0") == "staged"
        with db.pool.connection() as conn:
            kept = conn.execute("SELECT state FROM ferry.log_exceptions WHERE row_uuid = %s", (b3,)).fetchone()
        assert kept == ("failed",)
        # Re-queue works from the kept columns: a new row, applied by the next sync.
        queries.requeue(db, schema, b3, "root", "fixed")
        assert _state(db, "b3") == "staged"
        run_once(db, warehouse, SCHEMA_ID, settings)
        assert _state(db, "b3") == "synced" and _state(db, "c0") == "synced"
        assert any(r["email"] == "b3" and r["a"] == "x" for r in warehouse.read(schema))
    finally:
        warehouse.close()
        db.close()
