"""Batch reads: only the attributes a batch's rows carry, the byte bound, and defaults of attributes not read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ferry.config import Settings
from ferry.ingest import Method
from ferry.staging import StagingDatabase
from ferry.sync import run_once
from ferry.sync.batches import BatchReader, parse_text_array
from ferry.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import SCHEMA_ID, call, item_schema, reset

_HEAD = ["_seq", "_uuid", "_op", "_key", "_present"]


def _last_seq(db: StagingDatabase) -> int:
    with db.pool.connection() as conn:
        row = conn.execute("SELECT max(_seq) FROM ferry_stg.tst_item").fetchone()
    assert row is not None
    return int(row[0])


def test_a_batch_holds_the_attributes_its_rows_carry_and_reads_more_when_a_later_one_carries_more(
        staging: tuple[StagingDatabase, Settings]) -> None:
    db, _ = staging
    reset(db)
    schema = item_schema(db)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k1", "a": "x"}, "@email", None),
                         ({"email": "k2"}, "@email", "delete"))])
    first_end = _last_seq(db)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k3", "b": 5, "note": "long text"}, "@email", None))])
    reader = BatchReader(db.url)
    try:
        first = reader.read(schema, 0, first_end, 1000, 1 << 30)
        assert first is not None
        assert first.rows.column_names == [*_HEAD, "id", "email", "a"]
        assert first.rows.column("a").to_pylist() == ["x", None]
        # The next batch carries other attributes than the one before (the reader's guess): they are read too, and
        # the ones no row of it carries are not.
        second = reader.read(schema, first.last_seq, _last_seq(db), 1000, 1 << 30)
        assert second is not None
        assert second.rows.column_names == [*_HEAD, "id", "email", "b", "note"]
        assert second.rows.column("note").to_pylist() == ["long text"]
        whole = reader.read(schema, 0, _last_seq(db), 1000, 1 << 30, every_column=True)
        assert whole is not None and whole.rows.column_names == [*_HEAD, *schema.attribute_names]
    finally:
        reader.close()


def test_a_batch_holds_each_rows_key_and_present_attributes_as_lists(
        staging: tuple[StagingDatabase, Settings]) -> None:
    db, _ = staging
    reset(db)
    schema = item_schema(db)
    # Lists that repeat and lists that change from row to row, an insert without _key (NULL key), a key of two
    # attributes.
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k1", "a": "x"}, "@email", None),
                         ({"email": "k2", "a": "y"}, "@email", None),
                         ({"email": "k3", "a": "z", "b": 5, "note": "t"}, "@email,@a", "update"),
                         ({"email": "k1"}, "@email", "delete"))])
    db.store.stage([call(db, Method.INGEST, ({"email": "k4"}, None, None), ({"email": "k5", "n": 3}, None, None))])
    with db.pool.connection() as conn:
        staged = conn.execute("SELECT _key, _present FROM ferry_stg.tst_item ORDER BY _seq").fetchall()
    reader = BatchReader(db.url)
    try:
        for every_column in (False, True):
            batch = reader.read(schema, 0, _last_seq(db), 1000, 1 << 30, every_column=every_column)
            assert batch is not None
            assert list(zip(batch.rows.column("_key").to_pylist(), batch.rows.column("_present").to_pylist(),
                            strict=True)) == staged
            assert batch.rows.schema.field("_present").type == batch.rows.schema.field("_key").type
    finally:
        reader.close()


@pytest.mark.parametrize("items", [[], ["a"], ["id", "email", "firstName"], ["a b", "x,y", 'q"t', "b\\s", "", "NULL",
                                                                            None, "{", "}", " lead", "é", "t\tab"]])
def test_array_text_reads_back_as_the_array_postgresql_wrote(items: list[str | None],
                                                             staging: tuple[StagingDatabase, Settings]) -> None:
    db, _ = staging
    with db.pool.connection() as conn:
        row = conn.execute("SELECT %s::text[]::text", (items,)).fetchone()
    assert row is not None
    assert parse_text_array(row[0]) == items


def test_array_text_with_a_lower_bound_or_two_dimensions() -> None:
    assert parse_text_array("[0:1]={a,b}") == ["a", "b"]
    with pytest.raises(ValueError, match="one-dimensional"):
        parse_text_array("{{a,b},{c,d}}")


def test_the_byte_bound_cuts_a_batch_after_the_row_that_reaches_it(staging: tuple[StagingDatabase, Settings]) -> None:
    db, _ = staging
    reset(db)
    schema = item_schema(db)
    db.store.stage([call(db, Method.INGEST_EXT, *(({"email": f"k{i}", "note": "n" * 2000}, "@email", None)
                                                  for i in range(50)))])
    reader = BatchReader(db.url)
    try:
        upto = _last_seq(db)
        small = reader.read(schema, 0, upto, 1000, 1)
        assert small is not None and small.rows.num_rows == 1 and small.last_seq == small.rows.column("_seq")[0].as_py()
        cut = reader.read(schema, 0, upto, 1000, 20_000)
        assert cut is not None and 1 < cut.rows.num_rows < 50
        assert cut.last_seq == cut.rows.column("_seq")[-1].as_py() < upto
        rest = reader.read(schema, cut.last_seq, upto, 1000, 1 << 30)
        assert rest is not None and rest.last_seq == upto
        assert cut.rows.num_rows + rest.rows.num_rows == 50
    finally:
        reader.close()


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_records_created_from_rows_carrying_few_attributes_get_the_others_defaults(
        engine: str, staging: tuple[StagingDatabase, Settings], warehouses: dict[str, Warehouse]) -> None:
    db, settings = staging
    warehouse = warehouses[engine]
    reset(db, warehouse)
    db.store.stage([call(db, Method.INGEST_EXT, ({"email": "k1", "a": "x"}, "@email", None),
                         ({"email": "k1", "a": "y"}, "@email", "update"))])
    db.store.stage([call(db, Method.INGEST, ({"email": "k2"}, None, None))])
    result = run_once(db, warehouse, SCHEMA_ID, settings)
    assert result.state == "succeeded" and result.counts["inserted"] == 2, result
    records = {r["email"]: r for r in warehouse.read(item_schema(db))}
    # n (default 7) and flag (default false) were in no row read: their defaults still come.
    assert (records["k1"]["a"], records["k1"]["n"], records["k1"]["flag"]) == ("y", 7, False)
    assert (records["k2"]["a"], records["k2"]["n"], records["k2"]["flag"]) == (None, 7, False)
