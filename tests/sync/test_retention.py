"""Retention drops whole partitions of the log on age and the applied horizon alone: an open failed row never holds
its partition back; its columns survive the drop in its exception, so it can still be re-queued or discarded."""

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
from ferry.workflows import list_runs

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


def _staged_rows(db: StagingDatabase) -> int:
    with db.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM ferry_stg.tst_item").fetchone()
    return int(row[0]) if row else -1


def _fail(db: StagingDatabase, email: str) -> uuid.UUID:
    """As if the warehouse had refused the row (its exception, with its columns, as the sync records it)."""
    with db.pool.connection() as conn:
        row = conn.execute("INSERT INTO ferry.log_exceptions (schema_id, seq, row_uuid, state, reason, payload) "
                           "SELECT 'tst:item', _seq, _uuid, 'failed', 'refused', to_jsonb(t) FROM ferry_stg.tst_item t "
                           "WHERE email = %s RETURNING row_uuid", (email,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def test_open_failed_rows_never_hold_their_partition(new_database: Callable[[], str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "SPAN", 4)
    db, settings = open_staging(new_database(), tmp_path / "data")
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        assert _parts(db) == [(1, 5), (5, 9)]
        # _seq 1-4: applied; 5-8: applied, with b2 and b3 failed and left open; 9-10: staged after the sync.
        db.store.stage([call(db, Method.INGEST_EXT, *[({"email": f"a{i}"}, "@email", None) for i in range(4)])])
        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "b0"}, "@email", None),
                             ({"email": "b1"}, "@email", "update"), ({"email": "b2", "a": "y"}, "@email", None),
                             ({"email": "b3", "a": "x"}, "@email", None))])
        assert run_once(db, warehouse, SCHEMA_ID, settings).counts["read"] == 8
        assert (9, 13) in _parts(db)  # made ahead of the sequence by the run
        db.store.stage([call(db, Method.INGEST, ({"email": "c0"}, None, None), ({"email": "c1"}, None, None))])
        b2, b3 = _fail(db, "b2"), _fail(db, "b3")
        assert purge(db, settings).counts["purged"] == 0  # applied, but not older than the retention yet
        assert _state(db, "b3") == "failed"
        with db.pool.connection() as conn:
            conn.execute("UPDATE ferry.log_batches SET done_at = now() - interval '8 days'")
        # Both applied partitions go, the one holding two open failed rows included; the staged rows stay.
        result = purge(db, settings)
        assert result.state == "succeeded" and result.counts["purged"] == 8
        # Only the pass that dropped rows is in the history; the idle one before it was only counted.
        assert [run["rows_purged"] for run in list_runs(db.pool, workflow="ferryPurgeStagingData")] == [8]
        assert (1, 5) not in _parts(db) and (5, 9) not in _parts(db) and (9, 13) in _parts(db)
        assert _staged_rows(db) == 2 and _state(db, "c0") == "staged"
        schema = item_schema(db)
        # The failed rows live on in their exceptions: b2 is discarded, b3 re-queued from its kept columns.
        queries.discard(db, schema, b2, "root", None)
        with db.pool.connection() as conn:
            kept = conn.execute("SELECT state FROM ferry.log_exceptions WHERE row_uuid = %s", (b2,)).fetchone()
            last = conn.execute("SELECT action FROM ferry.row_actions WHERE row_uuid = %s", (b2,)).fetchone()
        assert kept == ("failed",) and last == ("discard",)
        queries.requeue(db, schema, b3, "root", "fixed")
        assert _state(db, "b3") == "staged" and _staged_rows(db) == 3
        run_once(db, warehouse, SCHEMA_ID, settings)
        assert _state(db, "b3") == "synced" and _state(db, "c0") == "synced"
        assert any(r["email"] == "b3" and r["a"] == "x" for r in warehouse.read(schema))
        # Staging holds what the live rows need: the re-queued row's old exception went with the next purge.
        with db.pool.connection() as conn:
            conn.execute("UPDATE ferry.log_batches SET done_at = now() - interval '8 days'")
        purge(db, settings)
        with db.pool.connection() as conn:
            left = conn.execute("SELECT row_uuid FROM ferry.log_exceptions WHERE schema_id = 'tst:item'").fetchall()
        assert [uuid.UUID(str(r[0])) for r in left] == [b2]
    finally:
        warehouse.close()
        db.close()
