"""Arrow shaped for PostgreSQL's binary COPY into the warehouse table, and key values bound as one array parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pyarrow as pa

# Binary COPY takes each column in its exact wire type: the Arrow type ADBC sends for each built-in type OID.
COPY_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    21: pa.int16(),
    23: pa.int32(),
    20: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def _kind(kind: pa.DataType) -> str:
    """A family of Arrow types whose values keep their meaning when cast inside it."""
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_time(kind):
        return "time"
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    return "other"


def copy_table(news: pa.Table, columns: Mapping[str, int], stamps: Sequence[str], now: datetime) -> pa.Table | None:
    """`news` cast to the warehouse columns' wire types, with the stamp columns set to `now`; None when some column
    does not cast cleanly (an unknown type, another family, a value out of range): the caller then lets
    PostgreSQL's own assignment casts decide (and name the bad value)."""
    arrays: list[pa.ChunkedArray | pa.Array] = []
    names: list[str] = []
    for name in news.column_names:
        target = COPY_TYPES.get(columns.get(name, 0))
        column = news.column(name)
        if target is None or (column.null_count < len(column) and _kind(column.type) != _kind(target)):
            return None
        try:
            arrays.append(column.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        names.append(name)
    for name in stamps:
        target = COPY_TYPES.get(columns.get(name, 0))
        if target is None or _kind(target) != "timestamptz":
            return None
        arrays.append(pa.repeat(pa.scalar(now, target), news.num_rows))
        names.append(name)
    return pa.table(arrays, names=names)


def key_parameter(keys: pa.Table) -> pa.RecordBatch | None:
    """One key column's values as a single array parameter (`= ANY($1)`), when its type binds as an array;
    else None."""
    if keys.num_columns != 1:
        return None
    values = keys.column(0).combine_chunks()
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_integer(values.type)):
        return None
    offsets = pa.array([0, len(values)], pa.int32())
    return pa.record_batch([pa.ListArray.from_arrays(offsets, values)], names=["keys"])
