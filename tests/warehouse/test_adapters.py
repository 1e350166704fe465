"""The warehouse adapters on their own: URLs, table creation and evolution, ledger, a folded batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.loader import parse_schema
from ferry.schema.model import Schema
from ferry.schema.staging import with_internal_id
from ferry.warehouse import Warehouse, open_warehouse
from ferry.warehouse.base import Transaction
from ferry.warehouse.tables import default_literal

XML = """<srcSchema namespace="tst" name="thing" xtkschema="xtk:srcSchema">
  <element name="thing" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
    <attribute name="n" type="long" default="7"/>
    <attribute name="label" type="string" default="'none'"/>
    <attribute name="seen" type="datetime" default="GetDate()"/>
    {extra}
  </element>
</srcSchema>"""


def schema(extra: str = "", email_length: int = 64) -> Schema:
    xml = XML.format(extra=extra).replace('length="64"', f'length="{email_length}"')
    return with_internal_id(parse_schema(xml))


def batch(rows: list[tuple[int, str, str, list[str] | None, dict[str, object]]], s: Schema) -> pa.Table:
    """An Arrow batch shaped like the staging read: _seq, _uuid, _op, _key, _present, attributes."""
    columns: dict[str, list[object]] = {"_seq": [], "_uuid": [], "_op": [], "_key": [], "_present": []}
    for name in s.attribute_names:
        columns[name] = []
    for seq, row_uuid, op, key, values in rows:
        columns["_seq"].append(seq)
        columns["_uuid"].append(row_uuid)
        columns["_op"].append(op)
        columns["_key"].append(key)
        columns["_present"].append(list(values))
        for name in s.attribute_names:
            columns[name].append(values.get(name))
    types = {"n": pa.int32(), "extra": pa.int64(), "seen": pa.timestamp("us", tz="UTC")}
    fields = [pa.field("_seq", pa.int64()), pa.field("_uuid", pa.string()), pa.field("_op", pa.string()),
              pa.field("_key", pa.list_(pa.string())), pa.field("_present", pa.list_(pa.string()))]
    fields += [pa.field(n, types.get(n, pa.string())) for n in s.attribute_names]
    return pa.table(columns, schema=pa.schema(fields))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, new_postgres_url: Callable[[], str], tmp_path: Path
              ) -> Iterator[Warehouse]:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if request.param == "duckdb" else new_postgres_url()
    made = open_warehouse(url)
    yield made
    made.close()


def test_urls() -> None:
    with pytest.raises(FerryError) as other:
        open_warehouse("mysql://x")
    assert other.value.code is errors.WAREHOUSE_URL
    with pytest.raises(FerryError) as down:
        open_warehouse("postgresql://nobody@127.0.0.1:1/none")
    assert down.value.code is errors.WAREHOUSE_UNAVAILABLE
    memory = open_warehouse("duckdb:///:memory:")
    memory.close()


def test_literal_defaults() -> None:
    s = schema()
    assert default_literal(s.attribute("n")) == 7  # type: ignore[arg-type]
    assert default_literal(s.attribute("label")) == "none"  # type: ignore[arg-type]
    assert default_literal(s.attribute("seen")) is None  # type: ignore[arg-type]


def test_table_evolves_and_batch_applies_once(warehouse: Warehouse) -> None:
    s = schema()
    warehouse.ensure_table(s)
    warehouse.ensure_table(s)  # idempotent
    rows = [
        (1, "u1", "insert", None, {"id": "u1", "email": "a"}),
        (2, "u2", "insert", None, {"id": "u2", "email": "a", "n": 3}),
        (3, "u3", "update", ["email"], {"email": "a", "label": "x"}),
        (4, "u4", "insertOrUpdate", ["email"], {"email": "b", "n": None}),
        (5, "u5", "insert", ["email"], {"email": "b"}),
        (6, "u6", "delete", ["email"], {"email": "zz"}),
    ]
    outcome = warehouse.apply_batch(s, "batch-1", batch(rows, s))
    assert outcome.counts == {"read": 6, "inserted": 3, "updated": 1, "deleted": 0, "skipped": 2, "failed": 0}
    assert outcome.skipped == [(5, "key exists"), (6, "no record with this key")]
    stored = warehouse.batch_applied("batch-1")
    assert stored is not None and stored.from_ledger
    assert (stored.counts, stored.skipped, stored.failed) == (outcome.counts, outcome.skipped, outcome.failed)
    assert warehouse.batch_applied("batch-2") is None
    records = sorted((r["id"], r["email"], r["n"], r["label"], r["seen"]) for r in warehouse.read(s))
    assert records == [("u1", "a", 7, "x", None), ("u2", "a", 3, "x", None), ("u4", "b", None, "none", None)]
    assert all(r["created"] is not None and r["lastModified"] >= r["created"] for r in warehouse.read(s))

    grown = schema('<attribute name="extra" type="int64"/>', email_length=200)
    warehouse.ensure_table(grown)
    assert all(r["extra"] is None for r in warehouse.read(grown))
    warehouse.ensure_table(s)  # an older definition drops nothing
    assert "extra" in warehouse.read(grown)[0]
    long_email = [(7, "u7", "insert", None, {"id": "u7", "email": "x" * 150})]
    assert warehouse.apply_batch(grown, "batch-3", batch(long_email, grown)).counts["inserted"] == 1


def test_keys_only_free_inserts_carry_are_not_looked_up(warehouse: Warehouse,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    s = schema()
    warehouse.ensure_table(s)
    warehouse.apply_batch(s, "batch-1", batch([(1, "u1", "insert", None, {"id": "u1", "email": "a"})], s))
    looked: list[list[object]] = []
    begin = warehouse._begin

    def spying() -> Transaction:
        tx = begin()
        existing = tx.existing

        def spy(schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
            looked.append(sorted(keys.column(0).to_pylist()))
            return existing(schema, key, keys)

        monkeypatch.setattr(tx, "existing", spy)
        return tx

    monkeypatch.setattr(warehouse, "_begin", spying)
    rows = [
        (2, "u2", "insert", None, {"id": "u2", "email": "a", "n": 1}),  # free, but its key is updated below
        (3, "u3", "insert", None, {"id": "u3", "email": "b"}),  # free, and no other row carries "b"
        (4, "u4", "update", ["email"], {"email": "a", "label": "y"}),  # both records holding "a"
        (5, "u5", "insert", ["email"], {"email": "c"}),
    ]
    outcome = warehouse.apply_batch(s, "batch-2", batch(rows, s))
    assert looked == [["a", "c"]]
    assert outcome.counts == {"read": 4, "inserted": 3, "updated": 1, "deleted": 0, "skipped": 0, "failed": 0}
    records = sorted((r["id"], r["email"], r["n"], r["label"]) for r in warehouse.read(s))
    assert records == [("u1", "a", 7, "y"), ("u2", "a", 1, "y"), ("u3", "b", 7, "none"), ("u5", "c", 7, "none")]
