"""Folding a segment of staged operations into one set-based change per key.

A *segment* is a run of consecutive staged rows sharing one reconciliation key K. Inside a segment a row
only touches the records whose K values equal its own, and never changes those values, so every key value
is independent: per key we compute, with window functions, whether a record exists before each row
(`exists` = E0 from the warehouse, then `delete` → no, `insert`/`insertOrUpdate` → yes, `update` → unchanged),
hence each row's outcome, and the net effect:

- `__del`: some row deletes → every original record with that key goes;
- `__create`: a row after the last delete inserts → one new record (its values, defaults, then later updates);
- `__upd`: otherwise, rows updating the originals → one overlay (per attribute: the last value present).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.warehouse.tables import default_literal, quote

# Per-row outcome codes, as the fold writes them.
INSERTED = "inserted"
UPDATED = "updated"
DELETED = "deleted"
SKIPPED_EXISTS = "skipped_exists"
SKIPPED_MISSING = "skipped_missing"
REASONS = {SKIPPED_EXISTS: "key exists", SKIPPED_MISSING: "no record with this key"}

_local = threading.local()


def _engine() -> duckdb.DuckDBPyConnection:
    # One private in-memory DuckDB per thread: folding never touches the warehouse connection.
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        con.execute("SET threads TO 1")
        _local.con = con
    return con


def segments(batch: pa.Table) -> list[tuple[tuple[str, ...], pa.Table]]:
    """Split a batch (in `_seq` order) into runs of rows sharing the same key spec."""
    if batch.num_rows == 0:
        return []
    spec = pc.fill_null(pc.binary_join(batch.column("_key"), ","), ID_ATTRIBUTE).combine_chunks()
    changed = pc.not_equal(spec.slice(1), spec.slice(0, len(spec) - 1))
    bounds = [int(i) + 1 for i in pc.indices_nonzero(changed).to_pylist()]
    starts = [0, *bounds]
    ends = [*bounds, batch.num_rows]
    return [(tuple(str(spec[start].as_py()).split(",")), batch.slice(start, end - start))
            for start, end in zip(starts, ends, strict=True)]


def distinct_keys(segment: pa.Table, key: Sequence[str]) -> pa.Table:
    """The distinct key values of a segment (to ask the warehouse which exist)."""
    return segment.select(list(key)).group_by(list(key)).aggregate([])


def fold(schema: Schema, key: Sequence[str], segment: pa.Table, existing: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(groups, outcomes): one change row per key value, and each row's `_seq` with its outcome code."""
    con = _engine()
    names = [attr.name for attr in schema.attributes if attr.name in segment.column_names]
    on = " AND ".join(f"s.{quote(k)} = e.{quote(k)}" for k in key)
    part = ", ".join(f"s.{quote(k)}" for k in key)
    existing = existing.append_column("__hit", pa.array([True] * existing.num_rows, pa.bool_()))
    con.register("seg", segment)
    con.register("ex", existing)
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE z AS
            WITH x AS (
                SELECT s.*, coalesce(e.__hit, false) AS __e0,
                    max(CASE WHEN s._op = 'delete' THEN s._seq END) OVER (PARTITION BY {part}) AS __last_del,
                    last_value(CASE WHEN s._op <> 'update' THEN s._op END IGNORE NULLS) OVER (
                        PARTITION BY {part} ORDER BY s._seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    ) AS __prev
                FROM seg s LEFT JOIN ex e ON {on}
            ), y AS (
                SELECT *, CASE WHEN __prev IS NULL THEN __e0 ELSE __prev <> 'delete' END AS __before FROM x
            )
            SELECT *,
                CASE _op
                    WHEN 'insert' THEN CASE WHEN __before THEN '{SKIPPED_EXISTS}' ELSE '{INSERTED}' END
                    WHEN 'insertOrUpdate' THEN CASE WHEN __before THEN '{UPDATED}' ELSE '{INSERTED}' END
                    WHEN 'update' THEN CASE WHEN __before THEN '{UPDATED}' ELSE '{SKIPPED_MISSING}' END
                    ELSE CASE WHEN __before THEN '{DELETED}' ELSE '{SKIPPED_MISSING}' END
                END AS __outcome,
                _seq > coalesce(__last_del, -1) AS __tail
            FROM y
        """)  # noqa: S608 - identifiers are quoted schema attribute names
        outcomes = con.sql("SELECT _seq, __outcome AS outcome FROM z ORDER BY _seq").to_arrow_table()
        columns = [f"{quote(k)} AS {quote('__k_' + k)}" for k in key]
        params: list[object] = []
        for name in names:
            attr = schema.attribute(name)
            assert attr is not None
            col = quote(name)
            if name == ID_ATTRIBUTE:
                # A new record's internal key: the row's id, else (insertOrUpdate) its staged UUID.
                value = f"CASE WHEN list_contains(_present, 'id') THEN {col} ELSE _uuid END"
                cond = f"__tail AND __outcome = '{INSERTED}'"
            else:
                value = col
                cond = (f"__tail AND __outcome IN ('{INSERTED}', '{UPDATED}') "
                        f"AND list_contains(_present, '{name}')")
            default = default_literal(attr)
            merged = f"arg_max_null({value}, CASE WHEN {cond} THEN _seq END)"
            if default is not None:
                # Only new records take the default; updates keep the flag false for absent attributes.
                merged = f"CASE WHEN bool_or({cond}) THEN {merged} ELSE CAST(? AS {_duck_type(segment, name)}) END"
                params.append(default)
            columns.append(f"{merged} AS {col}")
            columns.append(f"bool_or({cond}) AS {quote('__p_' + name)}")
        groups = con.sql(f"""
            SELECT {", ".join(columns)},
                bool_or(__last_del IS NOT NULL) AS __del,
                bool_or(__tail AND __outcome = '{INSERTED}') AS __create,
                bool_or(__tail AND __outcome = '{UPDATED}') AS __upd
            FROM z GROUP BY {", ".join(quote(k) for k in key)}
            HAVING bool_or(__last_del IS NOT NULL) OR bool_or(__tail AND __outcome IN ('{INSERTED}', '{UPDATED}'))
        """, params=params).to_arrow_table()  # noqa: S608
    finally:
        con.unregister("seg")
        con.unregister("ex")
        con.execute("DROP TABLE IF EXISTS z")
    return groups, outcomes


def _duck_type(table: pa.Table, name: str) -> str:
    kind = table.schema.field(name).type
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_time(kind):
        return "TIME"
    return "VARCHAR"
