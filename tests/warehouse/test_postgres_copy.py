"""The PostgreSQL warehouse's fast paths: new records by binary COPY into the table, keys looked up as one array,
and the fallbacks that let PostgreSQL name a bad value when Arrow cannot shape it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ferry.schema.model import Attribute
from ferry.schema.types import AttrType
from ferry.warehouse import open_warehouse, statements
from ferry.warehouse.postgres_copy import copy_table, key_parameter
from ferry.warehouse.postgres_wh import PostgresWarehouse

from .test_adapters import batch, schema

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
COLUMNS = {"id": 1043, "email": 1043, "n": 21, "seen": 1184, "created": 1184, "lastModified": 1184}


def test_copy_table_casts_to_the_columns_wire_types() -> None:
    news = pa.table({"id": ["a"], "email": pa.array(["x"], pa.large_string()), "n": pa.array([7], pa.int64())})
    shaped = copy_table(news, COLUMNS, ["created", "lastModified"], NOW)
    assert shaped is not None
    assert shaped.schema.types == [pa.string(), pa.string(), pa.int16(), pa.timestamp("us", tz="UTC"),
                                   pa.timestamp("us", tz="UTC")]
    assert shaped.column("created").to_pylist() == [NOW]


@pytest.mark.parametrize("news", [
    pa.table({"n": pa.array([70000], pa.int64())}),  # out of the smallint's range: PostgreSQL names it
    pa.table({"n": ["7"]}),  # another family of types: PostgreSQL's assignment cast decides
    pa.table({"seen": pa.array([1], pa.timestamp("us"))}),  # a wall-clock time into timestamptz: session zone
    pa.table({"other": [1]}),  # a column the table does not have
])
def test_copy_table_declines_what_it_cannot_shape_cleanly(news: pa.Table) -> None:
    assert copy_table(news, COLUMNS, [], NOW) is None


def test_key_parameter() -> None:
    bound = key_parameter(pa.table({"email": pa.array(["a", None, "b"], pa.large_string())}))
    assert bound is not None and bound.column(0).to_pylist() == [["a", None, "b"]]
    assert key_parameter(pa.table({"n": pa.array([1, 2], pa.int32())})) is not None
    assert key_parameter(pa.table({"a": ["x"], "b": ["y"]})) is None  # a key of two columns: a temp table
    assert key_parameter(pa.table({"d": pa.array([NOW])})) is None


def test_an_update_of_the_key_alone_still_sets_a_column() -> None:
    base = schema()
    own = base.with_attributes((*base.attributes, Attribute(name="lastModified", type=AttrType.DATETIME)))
    sql = statements.merge_sql(own, "t", ["email"], ["id", "email"], "g", "now()")
    assert 'UPDATE SET "email" = t."email"' in sql


@pytest.fixture
def pg(new_postgres_url: Callable[[], str]) -> Iterator[PostgresWarehouse]:
    made = open_warehouse(new_postgres_url())
    assert isinstance(made, PostgresWarehouse)
    yield made
    made.close()


def _with_gender(staged: pa.Table) -> pa.Table:
    # A byte attribute, as wide as a staging read could give it (the fold widens numbers too).
    column = staged.column("gender").cast(pa.int64())
    return staged.set_column(staged.schema.get_field_index("gender"), "gender", column)


def test_new_records_by_copy_keep_defaults_stamps_and_bad_values_fail_alone(pg: PostgresWarehouse) -> None:
    s = schema('<attribute name="gender" type="byte"/>')
    pg.ensure_table(s)
    rows = [
        (1, "u1", "insert", None, {"id": "u1", "email": "a", "gender": "1"}),
        (2, "u2", "insertOrUpdate", ["email"], {"email": "b"}),
        (3, "u3", "insert", None, {"id": "u3", "email": "c", "gender": "70000"}),  # no smallint holds it
        (4, "u4", "insert", None, {"id": "u4", "email": "x" * 65}),  # longer than the column
    ]
    outcome = pg.apply_batch(s, "b1", _with_gender(batch(rows, s)))
    assert outcome.counts["inserted"] == 2 and outcome.counts["failed"] == 2
    assert [seq for seq, _ in outcome.failed] == [3, 4]
    assert "out of range" in outcome.failed[0][1] and "too long" in outcome.failed[1][1]
    records = {r["email"]: r for r in pg.read(s)}
    assert sorted(records) == ["a", "b"]
    assert records["a"]["gender"] == 1 and records["b"]["n"] == 7 and records["b"]["label"] == "none"
    assert records["b"]["id"] == "u2"
    assert all(r["created"] is not None and r["created"] == r["lastModified"] for r in records.values())

    # Looked up by one array of keys: the existing record is updated, a key not there skipped.
    more = [(5, "u5", "update", ["email"], {"email": "a", "label": "y"}),
            (6, "u6", "delete", ["email"], {"email": "nobody"})]
    outcome = pg.apply_batch(s, "b2", _with_gender(batch(more, s)))
    assert (outcome.counts["updated"], outcome.counts["skipped"]) == (1, 1)
    assert {r["email"]: r["label"] for r in pg.read(s)} == {"a": "y", "b": "none"}
