"""Model-based test of the sync: random Ingest / IngestExt streams, syncs at random points, both warehouses.

The warehouse and every row's final state must equal a plain model applying each operation in staging order.
Set FERRY_HYPOTHESIS_EXAMPLES=5000 to run thousands of examples.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.config import Settings
from ferry.ingest import Method
from ferry.staging import StagingDatabase
from ferry.sync import run_once
from ferry.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import SCHEMA_ID, Model, item_schema, reset, stage_plan, with_batch

EXAMPLES = int(os.environ.get("FERRY_HYPOTHESIS_EXAMPLES", "40"))

EMAILS = ["e1", "e2", "e3"]
IDS = ["ID1", "ID2"]
VALUES: dict[str, list[str]] = {
    "email": [*EMAILS, ""],
    "a": ["x", "y", ""],
    "b": ["1", "2", ""],
    "n": ["5", "6", ""],
    "note": ["p", "q", ""],
    "flag": ["true", "false", ""],
    "seen": ["2024-01-02T03:04:05Z", ""],
}
KEY_VALUES: dict[str, list[str]] = {"email": EMAILS, "a": ["x", "y"], "b": ["1", "2"], "id": IDS}
KEYS = {"@email": ("email",), "@a,@b": ("a", "b"), "@id": ("id",)}

Record = tuple[dict[str, Any], str | None, str | None]


@st.composite
def records(draw: st.DrawFn, method: Method, focus: bool) -> Record:
    """One raw record: fields (a random subset: partial updates), _key, _operation.

    With `focus`, only keyless inserts and @email keys, so long runs of rows fold together in one segment.
    """
    fields = draw(st.dictionaries(st.sampled_from(sorted(VALUES)), st.none(), max_size=4))
    fields = {name: draw(st.sampled_from(VALUES[name])) for name in fields}
    if "email" not in fields and draw(st.integers(0, 3)) > 0:
        # Most records carry an email, so keyless inserts and @email operations meet often.
        fields["email"] = draw(st.sampled_from(EMAILS))
    if method is Method.INGEST:
        key = draw(st.sampled_from([None, None, None, "@email"] if focus else [None, None, None, "@email", "@a,@b"]))
        op = None
    else:
        op = draw(st.sampled_from([None, "insert", "insertOrUpdate", "update", "update", "delete"]))
        key = draw(st.sampled_from(["@email"] if focus else [None, "@email", "@email", "@email", "@a,@b", "@id"]))
        if key is None and op != "insert":
            fields["id"] = draw(st.sampled_from(IDS))
    if key is None and "id" not in fields and not focus and draw(st.integers(0, 4)) == 0:
        fields["id"] = draw(st.sampled_from(IDS))
    for name in KEYS.get(key or "", ()):
        fields[name] = draw(st.sampled_from(KEY_VALUES[name]))
    return fields, key, op


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Calls (collections of 1-4 records) with syncs (random batch sizes) in between."""
    out: list[tuple[str, Any]] = []
    focus = draw(st.booleans())
    for _ in range(draw(st.integers(1, 14))):
        if draw(st.integers(0, 4)) == 0:
            out.append(("sync", draw(st.sampled_from([1, 2, 3, 7, 1000]))))
            continue
        method = draw(st.sampled_from([Method.INGEST, Method.INGEST_EXT, Method.INGEST_EXT]))
        out.append(("call", (method, draw(st.lists(records(method, focus), min_size=1, max_size=4)))))
    out.append(("sync", draw(st.sampled_from([3, 1000, 1000]))))
    return out


def _records(warehouse: Warehouse, db: StagingDatabase) -> list[tuple[Any, ...]]:
    schema = item_schema(db)
    rows = [tuple(row[name] for name in schema.attribute_names) for row in warehouse.read(schema)]
    return sorted(rows, key=repr)


def _model_records(model: Model) -> list[tuple[Any, ...]]:
    names = model.schema.attribute_names
    return sorted((tuple(r[name] for name in names) for r in model.records), key=repr)


def check_stream(db: StagingDatabase, base: Settings, warehouse: Warehouse, plan: list[tuple[str, Any]]) -> None:
    """Stage the plan, sync where it says and at the end, compare with the model."""
    reset(db, warehouse)

    def sync_at(rows: int) -> None:
        result = run_once(db, warehouse, SCHEMA_ID, with_batch(base, rows), retries=0)
        assert result.state == "succeeded", result.error

    staged = stage_plan(db, plan, sync_at)
    sync_at(4)

    model = Model(item_schema(db))
    expected: dict[str, tuple[str, str | None]] = {}
    for built in staged:
        for op in built.operations:
            expected[str(op.uuid)] = model.apply(op)
    with db.pool.connection() as conn:
        actual = {str(u): (s, r) for u, s, r in conn.execute("SELECT _uuid, _state, _reason FROM ferry.rows_tst_item")}
    assert actual == expected
    assert _records(warehouse, db) == _model_records(model)


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_sync_equals_sequential_model(engine: str, staging: tuple[StagingDatabase, Settings],
                                      warehouses: dict[str, Warehouse]) -> None:
    db, base = staging
    warehouse = warehouses[engine]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plan=steps())
    def run(plan: list[tuple[str, Any]]) -> None:
        check_stream(db, base, warehouse, plan)

    run()


def test_sync_in_granules_equals_sequential_model(staging: tuple[StagingDatabase, Settings],
                                                 warehouses: dict[str, Warehouse],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on DuckDB with a batch granularity of 3 rows: a backlog read a row at a time, batches gathered."""
    db, base = staging
    warehouse = warehouses["duckdb"]
    monkeypatch.setattr(warehouse, "batch_granularity", 3)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plan=steps())
    def run(plan: list[tuple[str, Any]]) -> None:
        check_stream(db, base, warehouse, plan)

    run()


def test_known_interleavings(staging: tuple[StagingDatabase, Settings], warehouses: dict[str, Warehouse]) -> None:
    """Hand-written cases: keyless duplicates then keyed update/delete, delete-then-insert, insert-then-delete."""
    db, base = staging
    ingest, ext = Method.INGEST, Method.INGEST_EXT
    plan: list[tuple[str, Any]] = [
        ("call", (ingest, [({"email": "e1", "note": "a"}, None, None), ({"email": "e1"}, None, None)])),
        ("call", (ext, [({"email": "e1", "a": "x"}, "@email", None)])),
        ("call", (ext, [({"email": "e2", "a": "y", "b": "1"}, "@email", "insert"),
                        ({"email": "e2"}, "@email", "delete"), ({"email": "e2", "n": ""}, "@email", None)])),
        ("call", (ext, [({"a": "x", "b": "2", "note": ""}, "@a,@b", "insertOrUpdate"),
                        ({"a": "x", "b": "2"}, "@a,@b", "delete"), ({"a": "x", "b": "2"}, "@a,@b", "update")])),
        ("call", (ext, [({"email": "e1"}, "@email", "delete"), ({"email": "e1"}, "@email", "delete")])),
    ]
    for engine in ("duckdb", "postgresql"):
        for size in (1, 2, 1000):
            check_stream(db, with_batch(base, size), warehouses[engine], plan)
