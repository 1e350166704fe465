"""Helpers of the sync tests: the test schema `tst:item`, staging and warehouse setup, and the oracle model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ferry.config import Settings
from ferry.errors import FerryError
from ferry.ingest import Call, Method, Op, Operation, RawRecord, build_call
from ferry.schema.loader import parse_schema
from ferry.schema.model import Schema
from ferry.staging import StagingDatabase
from ferry.sync.batches import adbc_uri
from ferry.warehouse import Warehouse
from ferry.warehouse.tables import default_literal

ITEM_XML = """<srcSchema namespace="tst" name="item" xtkschema="xtk:srcSchema">
  <element name="item" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
    <attribute name="a" type="string" length="16"/>
    <attribute name="b" type="long"/>
    <attribute name="n" type="long" default="7"/>
    <attribute name="note" type="memo"/>
    <attribute name="flag" type="boolean" default="false"/>
    <attribute name="seen" type="datetime" default="GetDate()"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element>
</srcSchema>"""

SCHEMA_ID = "tst:item"


def pg_url(conninfo: str) -> str:
    """A postgresql:// URL for a conninfo string (warehouse URLs are URLs), socket folders included."""
    return adbc_uri(conninfo)


def open_staging(url: str, data_dir: Path, **overrides: Any) -> tuple[StagingDatabase, Settings]:
    """A staging database with `tst:item` applied."""
    settings = Settings.from_env(database_url=url, data_dir=data_dir, **overrides)
    db = StagingDatabase.open(settings)
    db.catalog.apply(parse_schema(ITEM_XML))
    db.reload_schemas()
    return db, settings


def item_schema(db: StagingDatabase) -> Schema:
    """The registry's `tst:item` (with its `id`)."""
    schema = db.registry.get(SCHEMA_ID)
    assert schema is not None
    return schema


def call(db: StagingDatabase, method: Method, *records: tuple[dict[str, Any], str | None, str | None]) -> Call:
    """Build one call of (fields, _key, _operation) records on tst:item."""
    raw = [RawRecord(i + 1, SCHEMA_ID, fields, key, op) for i, (fields, key, op) in enumerate(records)]
    return build_call(db.registry, method, raw)


def reset(db: StagingDatabase, warehouse: Warehouse | None = None) -> None:
    """Empty staging (rows, requests, runs, batches) and the warehouse."""
    with db.pool.connection() as conn:
        conn.execute("TRUNCATE ferry_stg.tst_item, ferry.requests, ferry.log_batches, ferry.log_exceptions, "
                     "ferry.workflow_runs")
    if warehouse is not None:
        warehouse.ensure_table(item_schema(db))
        warehouse.truncate(item_schema(db))


def with_batch(settings: Settings, rows: int) -> Settings:
    """The same settings with another batch size."""
    return dataclasses.replace(settings, batch_rows=rows)



class Model:
    """Records as dicts; `apply` returns the row's final state and reason."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.records: list[dict[str, Any]] = []

    def apply(self, op: Operation) -> tuple[str, str | None]:
        """Apply one operation as DESIGN.md §3 says."""
        key = op.reconciliation_key
        matches = [r for r in self.records if all(r[k] == op.values[k] for k in key)]
        changes = {name: value for name, value in op.values.items() if name != "id"}
        if op.op is Op.INSERT:
            if matches:
                return "skipped", "key exists"
            self._insert(op.values)
        elif op.op is Op.INSERT_OR_UPDATE:
            if matches:
                for record in matches:
                    record.update(changes)
            else:
                self._insert({**op.values, "id": op.values.get("id", str(op.uuid))})
        elif op.op is Op.UPDATE:
            if not matches:
                return "skipped", "no record with this key"
            for record in matches:
                record.update(changes)
        else:
            if not matches:
                return "skipped", "no record with this key"
            self.records = [r for r in self.records if not any(r is m for m in matches)]
        return "synced", None

    def _insert(self, values: dict[str, Any]) -> None:
        record = {attr.name: values[attr.name] if attr.name in values else default_literal(attr)
                  for attr in self.schema.attributes}
        self.records.append(record)


def stage_plan(db: StagingDatabase, plan: list[tuple[str, Any]], sync_at: Callable[[int], None]) -> list[Call]:
    """Stage a plan's calls in order, calling `sync_at(batch_rows)` where it says; refused calls stage nothing."""
    staged: list[Call] = []
    for kind, arg in plan:
        if kind == "sync":
            sync_at(arg)
            continue
        method, recs = arg
        try:
            built = call(db, method, *recs)
        except FerryError:
            continue
        db.store.stage([built])
        staged.append(built)
    return staged
