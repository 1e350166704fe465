"""A Snowflake batch is bulk-loaded, then applied by one MERGE with its ledger row in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sf_helpers import sync
from sync_helpers import call, item_schema, open_staging

from ferry.config import Settings
from ferry.ingest import Method
from ferry.staging import StagingDatabase
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse


@pytest.fixture
def recorded(new_database: Callable[[], str], snowflake_url: str,
             tmp_path: Path) -> Iterator[tuple[StagingDatabase, Settings, SnowflakeWarehouse, list[str]]]:
    """Staging, a Snowflake warehouse, and the statements the warehouse session runs (in order)."""
    db, settings = open_staging(new_database(), tmp_path / "data")
    warehouse = open_warehouse(snowflake_url)
    assert isinstance(warehouse, SnowflakeWarehouse)
    statements: list[str] = []
    run = warehouse._run

    def recording(sql: str, params: Any = None, **kwargs: Any) -> Any:
        statements.append(" ".join(sql.split()))
        return run(sql, params, **kwargs)

    warehouse._run = recording  # type: ignore[method-assign]
    try:
        yield db, settings, warehouse, statements
    finally:
        warehouse.close()
        db.close()


def _transaction(statements: list[str]) -> list[str]:
    """The statements of the last BEGIN … COMMIT."""
    begin = max(i for i, s in enumerate(statements) if s == "BEGIN")
    return statements[begin:statements.index("COMMIT", begin) + 1]


def _verb(statement: str) -> str:
    return re.sub(r"\s.*", "", statement)


def test_one_merge_applies_deletes_updates_and_inserts(
        recorded: tuple[StagingDatabase, Settings, SnowflakeWarehouse, list[str]]) -> None:
    db, settings, warehouse, statements = recorded
    db.store.stage([call(db, Method.INGEST, ({"email": "keep", "a": "1"}, None, None),
                         ({"email": "gone", "a": "2"}, None, None), ({"email": "again", "a": "3"}, None, None))])
    sync(db, warehouse, settings, 1000)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "keep", "b": "7"}, "@email", None),
                         ({"email": "gone"}, "@email", "delete"),
                         ({"email": "again"}, "@email", "delete"),
                         ({"email": "again", "a": "9"}, "@email", "insert"),
                         ({"email": "fresh", "a": "5"}, "@email", None))])
    statements.clear()
    sync(db, warehouse, settings, 1000)

    tx = _transaction(statements)
    table = '"tst_item"'
    merges = [s for s in tx if s.startswith("MERGE")]
    assert len(merges) == 1, tx
    assert merges[0].startswith(f"MERGE INTO {table} AS t USING ")
    for clause in ("THEN DELETE", "THEN UPDATE SET", "THEN INSERT"):
        assert clause in merges[0]
    # Nothing else writes the target table; values only arrive through PUT + COPY INTO session tables.
    writes = [s for s in tx if _verb(s) in ("INSERT", "UPDATE", "DELETE") and table in s.split(" WHERE")[0]]
    assert writes == [], writes
    assert any(s.startswith("PUT ") for s in tx) and any(s.startswith("COPY INTO ") for s in tx)
    assert [s for s in tx if "ferry_ledger" in s and s.startswith("INSERT")], tx  # the ledger, same transaction
    assert tx.index(merges[0]) < max(i for i, s in enumerate(tx) if "ferry_ledger" in s)

    records = {r["email"]: r for r in warehouse.read(item_schema(db))}
    assert set(records) == {"keep", "again", "fresh"}
    assert records["keep"]["a"] == "1" and records["keep"]["b"] == 7
    assert records["again"]["a"] == "9" and records["fresh"]["a"] == "5"


def test_a_batch_switching_keys_merges_once_per_run_of_one_key(
        recorded: tuple[StagingDatabase, Settings, SnowflakeWarehouse, list[str]]) -> None:
    db, settings, warehouse, statements = recorded
    db.store.stage([call(db, Method.INGEST, ({"email": "x", "a": "1"}, None, None))])
    sync(db, warehouse, settings, 1000)
    record_id = warehouse.read(item_schema(db))[0]["id"]
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "x", "a": "2"}, "@email", None),
                         ({"id": record_id, "a": "3"}, None, "update"),
                         ({"email": "x", "b": "4"}, "@email", None))])
    statements.clear()
    sync(db, warehouse, settings, 1000)

    assert sum(s.startswith("MERGE") for s in _transaction(statements)) == 3
    (record,) = warehouse.read(item_schema(db))
    assert (record["a"], record["b"]) == ("3", 4)
