"""The fold's fast path (Arrow compute) for segments whose key values are all distinct gives exactly what the general
fold (SQL in DuckDB) gives."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.schema.loader import parse_schema
from ferry.schema.staging import with_internal_id
from ferry.warehouse import fold as folding

ITEM = with_internal_id(parse_schema("""<srcSchema namespace="tst" name="item" xtkschema="xtk:srcSchema">
  <element name="item" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
    <attribute name="a" type="string" length="16"/>
    <attribute name="n" type="long" default="7"/>
    <attribute name="flag" type="boolean" default="false"/>
    <attribute name="seen" type="datetime"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element>
</srcSchema>"""))

ATTRIBUTES = ["id", "email", "a", "n", "flag", "seen"]
TYPES = {"id": pa.string(), "email": pa.string(), "a": pa.string(), "n": pa.int64(), "flag": pa.bool_(),
         "seen": pa.timestamp("us", tz="UTC")}
VALUES: dict[str, list[Any]] = {"a": ["x", "y", None], "n": [1, 2, None], "flag": [True, False, None],
                                "seen": [dt.datetime(2024, 1, 2, tzinfo=dt.UTC), None]}
KEY = ("email",)


@st.composite
def unique_segments(draw: st.DrawFn, unique: bool = True) -> tuple[pa.Table, pa.Table]:
    """A keyed segment (staged rows in `_seq` order) whose emails are all distinct (unless not `unique`), and the
    emails that exist."""
    emails = draw(st.lists(st.one_of(st.none(), st.sampled_from([f"e{i}" for i in range(12 if unique else 4)])),
                           min_size=1, max_size=12, unique=unique))
    rows: list[dict[str, Any]] = []
    for seq, email in enumerate(emails, start=1):
        row_uuid = str(uuid.UUID(int=seq))
        op = draw(st.sampled_from(["insert", "insertOrUpdate", "update", "delete", "free"]))
        present = ["email"] + [name for name in VALUES if draw(st.booleans())]
        row: dict[str, Any] = {"_seq": seq, "_uuid": row_uuid, "_op": "insert" if op == "free" else op,
                               "_key": None if op == "free" else list(KEY), "email": email}
        if op == "free":
            row["id"] = row_uuid
            present.append("id")
        elif draw(st.booleans()) and op != "delete":
            row["id"] = f"ID{seq}"
            present.append("id")
        for name in VALUES:
            row[name] = draw(st.sampled_from(VALUES[name])) if name in present else None
        row["_present"] = present
        rows.append(row)
    fields = [pa.field("_seq", pa.int64()), pa.field("_uuid", pa.string()), pa.field("_op", pa.string()),
              pa.field("_key", pa.list_(pa.string())), pa.field("_present", pa.list_(pa.string()))]
    fields += [pa.field(name, TYPES[name]) for name in ATTRIBUTES]
    segment = pa.Table.from_pylist(rows, pa.schema(fields))
    known = sorted({email for email in emails if email is not None and draw(st.booleans())})
    return segment, pa.table({"email": pa.array(known, pa.string())})


def _types(table: pa.Table) -> list[tuple[str, str]]:
    # DuckDB names UTC after its session time zone (Etc/UTC), Arrow compute keeps the input's: the same instants.
    return [(f.name, str(f.type).replace("Etc/UTC", "UTC")) for f in table.schema]


def _sorted_groups(groups: pa.Table) -> list[dict[str, Any]]:
    return sorted(groups.to_pylist(), key=lambda row: repr(row["__k_email"]))


@settings(max_examples=300, deadline=None)
@given(unique_segments())
def test_the_fast_path_equals_the_general_fold(case: tuple[pa.Table, pa.Table]) -> None:
    segment, existing = case
    names = [name for name in ITEM.attribute_names if name in segment.column_names]
    assert folding.keys_unique(KEY, segment)
    fast = folding._fold_unique(ITEM, KEY, names, segment, existing)
    general = folding._fold_keyed(folding._engine(), ITEM, KEY, names, segment, existing)
    _assert_same_fold(fast, general)


@settings(max_examples=300, deadline=None)
@given(unique_segments(unique=False))
def test_the_runs_fold_equals_the_general_fold(case: tuple[pa.Table, pa.Table]) -> None:
    segment, existing = case
    names = [name for name in ITEM.attribute_names if name in segment.column_names]
    fast = folding._fold_runs(ITEM, KEY, names, segment, existing)
    general = folding._fold_keyed(folding._engine(), ITEM, KEY, names, segment, existing)
    _assert_same_fold(fast, general)


@settings(max_examples=100, deadline=None)
@given(unique_segments())
def test_free_inserts_fold_as_the_general_fold(case: tuple[pa.Table, pa.Table]) -> None:
    segment = case[0].filter(folding.free_inserts(case[0]))
    if segment.num_rows == 0:
        return
    names = [name for name in ITEM.attribute_names if name in segment.column_names]
    free = folding._fold_free(ITEM, ("id",), names, segment)
    general = folding._fold_keyed(folding._engine(), ITEM, ("id",), names, segment,
                                  pa.table({"id": pa.array([], pa.string())}))
    assert free[2].to_pylist() == general[2].to_pylist()
    assert free[1].to_pylist() == general[1].to_pylist()
    assert free[0].num_rows == general[0].num_rows == 0


def test_keys_unique_counts_nulls_as_one_value() -> None:
    assert folding.keys_unique(KEY, pa.table({"email": ["a", "b", None]}))
    assert not folding.keys_unique(KEY, pa.table({"email": ["a", None, None]}))
    assert not folding.keys_unique(KEY, pa.table({"email": ["a", "b", "a"]}))
    assert not folding.keys_unique(("email", "n"), pa.table({"email": ["a", "a"], "n": [1, 1]}))
    assert folding.keys_unique(("email", "n"), pa.table({"email": ["a", "a"], "n": [1, 2]}))


def _assert_same_fold(fast: Any, general: Any) -> None:
    """The same groups, outcomes and deletes, of the same types, whichever fold made them."""
    for got, want in zip(fast, general, strict=True):
        assert _types(got) == _types(want)
    assert fast[2].to_pylist() == general[2].to_pylist()
    assert fast[1].to_pylist() == general[1].to_pylist()
    assert _sorted_groups(fast[0]) == _sorted_groups(general[0])
