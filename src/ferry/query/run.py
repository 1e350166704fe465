"""Running a query on the warehouse: the schema a query reads, its table, the compiled SQL and the rows.

Shared by SOAP `xtk:queryDef#ExecuteQuery`, REST `GET /api/v1/data/…` and workflow scripts
(`xtk.queryDef.create(…).ExecuteQuery()`), so each reads exactly the same way.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb

from ferry import errors
from ferry.errors import FerryError
from ferry.query.compiler import CompiledQuery, compile_query
from ferry.query.querydef import QueryDef
from ferry.schema.model import Schema
from ferry.warehouse.base import Warehouse
from ferry.warehouse.tables import quote, table_name

# Rows one select may return (lineCount is honoured below this).
MAX_ROWS = 100_000


def queryable(registry: Any, schema_id: str) -> Schema | None:
    """The schema whose warehouse table a query on `schema_id` reads, or None when it has none.

    Every data schema ferry knows has a table: staged ones (filled by the sync and Write), `nms:service` and
    `nms:subHisto` (filled by the subscription applier) and any other applied schema. `ns:nameStg` names its
    staged source, as for Ingest. Service schemas (`xtk:session`, …) are not in the registry: they have none.
    """
    schema: Schema | None = registry.get(schema_id)
    if schema is None and schema_id.endswith("Stg"):
        source: Schema | None = registry.get(schema_id[:-3])
        if source is not None and source.staged:
            schema = source
    return schema


def no_table(schema_id: str) -> FerryError:
    """FRY-700008: the schema a query names has no warehouse table (unknown, or a service schema)."""
    why = ("it is a service schema (methods only, no records)" if schema_id.startswith("xtk:")
           else "it is not a schema ferry knows (apply it first with `ferry schema apply`)")
    return FerryError(errors.QUERY_NO_TABLE, f"schema {schema_id} has no warehouse table to query: {why}")


_ensured: dict[tuple[int, str], bool] = {}
_ensured_lock = threading.Lock()


def ensure_table(warehouse: Warehouse, schema: Schema) -> None:
    """Create the schema's table before its first read (a schema never synced yet reads as empty)."""
    key = (id(warehouse), f"{schema.id}/{len(schema.attributes)}")
    with _ensured_lock:
        if key in _ensured:
            return
    warehouse.ensure_table(schema)
    with _ensured_lock:
        _ensured[key] = True


def run_query(warehouse: Warehouse, query: QueryDef, schema: Schema, max_rows: int) -> tuple[CompiledQuery, list[Any]]:
    """Compile and run on the warehouse (blocking: call it in a worker thread)."""
    compiled = compile_query(query, schema, quote(table_name(schema)), warehouse.dialect, max_rows=max_rows)
    ensure_table(warehouse, schema)
    try:
        return compiled, warehouse.select(compiled.sql, compiled.params)
    except Exception as exc:
        refused = evaluation_error(exc)
        if refused is None:
            raise
        raise refused from None


# DuckDB's errors about a value (the others, e.g. an unreachable file, stay internal).
_DUCKDB_VALUE_ERRORS = (duckdb.OutOfRangeException, duckdb.InvalidInputException, duckdb.ConversionException)


def evaluation_error(exc: BaseException) -> FerryError | None:
    """A value the engine could not compute (x/0 in a row, an argument out of range) as a FRY-7 refusal; None for
    anything else (an outage or a bug stays an internal error)."""
    state = str(getattr(exc, "sqlstate", "") or "")
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    if errors.QUERY_DIVISION_BY_ZERO.code in first or state == "22012" or "division by zero" in first.lower():
        detail = first.split(errors.QUERY_DIVISION_BY_ZERO.code, 1)[-1].strip()
        return FerryError(errors.QUERY_DIVISION_BY_ZERO, detail if errors.QUERY_DIVISION_BY_ZERO.code in first
                          else f"division by zero: a divisor of the query is 0 in some row ({first})")
    if state.startswith("22") or isinstance(exc, _DUCKDB_VALUE_ERRORS):
        return FerryError(errors.QUERY_EVALUATION, f"the warehouse could not evaluate the query: {first}")
    return None
