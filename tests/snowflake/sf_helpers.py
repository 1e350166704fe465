"""Helpers of the Snowflake tests: the sequential model with Snowflake's duplicate-key rule, stream checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync_helpers import SCHEMA_ID, Model, call, item_schema, reset, stage_plan, with_batch

from ferry.config import Settings
from ferry.ingest import Call, Method, Operation
from ferry.staging import StagingDatabase
from ferry.sync import run_once
from ferry.warehouse import Warehouse
from ferry.warehouse.snowflake_wh import duplicate_reason


class SnowflakeModel(Model):
    """Each operation in staging order; one whose key several records hold fails and changes nothing."""

    def apply(self, op: Operation) -> tuple[str, str | None]:
        """DESIGN.md §3, plus the duplicated-key refusal of the Snowflake adapter."""
        key = op.reconciliation_key
        values = tuple(op.values[k] for k in key)
        held = [r for r in self.records if all(r[k] == v for k, v in zip(key, values, strict=True))]
        if len(held) > 1 and None not in values:
            return "failed", duplicate_reason(self.schema, key, values, len(held))
        return super().apply(op)


def normal(value: Any) -> Any:
    """Comparable form: aware datetimes as UTC ISO text (connector and model use different tzinfo objects)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).isoformat()
    return value


def warehouse_records(warehouse: Warehouse, db: StagingDatabase) -> list[tuple[Any, ...]]:
    """The warehouse's records as sorted tuples of attribute values."""
    names = item_schema(db).attribute_names
    return sorted((tuple(normal(r[n]) for n in names) for r in warehouse.read(item_schema(db))), key=repr)


def model_records(model: Model) -> list[tuple[Any, ...]]:
    """The model's records as sorted tuples of attribute values."""
    names = model.schema.attribute_names
    return sorted((tuple(normal(r[n]) for n in names) for r in model.records), key=repr)


def row_states(db: StagingDatabase) -> dict[str, tuple[str, str | None]]:  # uuid → (state, reason)
    """Every staged row's state and reason, by UUID."""
    with db.pool.connection() as conn:
        return {str(u): (s, r) for u, s, r in conn.execute("SELECT _uuid, _state, _reason FROM ferry.rows_tst_item")}


States = dict[str, tuple[str, str | None]]


def expected_states(db: StagingDatabase, staged: list[Call]) -> tuple[SnowflakeModel, States]:
    """The model after every staged call, and each row's expected state."""
    model = SnowflakeModel(item_schema(db))
    expected = {}
    for built in staged:
        for op in built.operations:
            expected[str(op.uuid)] = model.apply(op)
    return model, expected


def sync(db: StagingDatabase, warehouse: Warehouse, settings: Settings, rows: int) -> None:
    """One run of the workflow with batches of `rows`; it must succeed."""
    result = run_once(db, warehouse, SCHEMA_ID, with_batch(settings, rows), retries=0)
    assert result.state == "succeeded", result.error


def check_stream(db: StagingDatabase, base: Settings, warehouse: Warehouse, plan: list[tuple[str, Any]]) -> None:
    """Stage the plan, sync where it says and at the end, compare states and records with the model."""
    reset(db, warehouse)
    staged = stage_plan(db, plan, lambda rows: sync(db, warehouse, base, rows))
    sync(db, warehouse, base, 4)
    model, expected = expected_states(db, staged)
    actual = row_states(db)
    assert actual == expected, {u: (actual.get(u), e) for u, e in expected.items() if actual.get(u) != e}
    got, want = warehouse_records(warehouse, db), model_records(model)
    assert got == want, (got, want)


def stage_workload(db: StagingDatabase, calls: int = 10) -> list[Call]:
    """Keyless inserts (a double apply would show; some share an email), keyed upserts, updates, deletes."""
    staged = []
    for i in range(calls):
        email = f"e{i % 4}"
        built = [
            call(db, Method.INGEST, ({"email": email, "note": f"n{i}"}, None, None), ({"email": f"u{i}"}, None, None)),
            call(db, Method.INGEST_EXT, ({"email": email, "b": str(i)}, "@email", None),
                 ({"email": f"u{i}", "a": "x"}, "@email", "update")),
        ]
        if i % 3 == 2:
            built.append(call(db, Method.INGEST_EXT, ({"email": email}, "@email", "delete")))
        if i % 4 == 3:
            built.append(call(db, Method.INGEST, ({"email": f"u{i}", "note": "again"}, None, None)))
        for one in built:
            db.store.stage([one])
        staged.extend(built)
    return staged
