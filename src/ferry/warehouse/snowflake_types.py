"""Snowflake column types for schema attributes, and the Parquet form of Arrow columns loaded with COPY INTO."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ferry.schema.model import Attribute
from ferry.schema.types import UUID_LENGTH, AttrType

SNOWFLAKE_TYPES: dict[AttrType, str] = {
    AttrType.STRING: "VARCHAR",
    AttrType.MEMO: "VARCHAR",
    AttrType.UUID: f"VARCHAR({UUID_LENGTH})",
    AttrType.BOOLEAN: "BOOLEAN",
    AttrType.BYTE: "NUMBER(3,0)",
    AttrType.SHORT: "NUMBER(5,0)",
    AttrType.LONG: "NUMBER(10,0)",
    AttrType.INT: "NUMBER(10,0)",
    AttrType.INT64: "NUMBER(19,0)",
    AttrType.DOUBLE: "FLOAT",
    AttrType.FLOAT: "FLOAT",
    AttrType.DATE: "DATE",
    AttrType.DATETIME: "TIMESTAMP_TZ",
    AttrType.DATETIMETZ: "TIMESTAMP_TZ",
    AttrType.DATETIMENOTZ: "TIMESTAMP_NTZ",
    AttrType.TIME: "TIME",
}
STAMP_TYPE = "TIMESTAMP_TZ"
# Result columns whose NULLs need a separate IS NULL flag when read back (see SnowflakeWarehouse.read).
TIMESTAMP_TYPES = frozenset({AttrType.DATETIME, AttrType.DATETIMETZ, AttrType.DATETIMENOTZ})

_ARROW: dict[AttrType, pa.DataType] = {
    AttrType.BOOLEAN: pa.bool_(),
    AttrType.BYTE: pa.int64(),
    AttrType.SHORT: pa.int64(),
    AttrType.LONG: pa.int64(),
    AttrType.INT: pa.int64(),
    AttrType.INT64: pa.int64(),
    AttrType.DOUBLE: pa.float64(),
    AttrType.FLOAT: pa.float64(),
}


def column_type(attr: Attribute) -> str:
    """The Snowflake type of an attribute's column (`string` keeps its declared length)."""
    if attr.type is AttrType.STRING and attr.length:
        return f"VARCHAR({attr.length})"
    return SNOWFLAKE_TYPES[attr.type]


def parquet_column(kind: AttrType | None, column: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """A column as Parquet carries it to COPY INTO: numbers and booleans as they are, the rest as ISO text.

    Text makes the `$1:"col"::TYPE` casts exact on Snowflake whatever the Parquet logical types say.
    """
    if kind is None:  # a flag column
        return column.cast(pa.bool_())
    if kind in _ARROW:
        return column.cast(_ARROW[kind])
    data_type = column.type
    if pa.types.is_timestamp(data_type):
        if data_type.tz is not None:
            utc = column.cast(pa.timestamp("us", tz="UTC"))
            text = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S")
            return pc.binary_join_element_wise(text, pa.scalar("+00:00"), pa.scalar(""))
        return pc.strftime(column.cast(pa.timestamp("us")), format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_null(data_type):
        return column.cast(pa.string())
    return column.cast(pa.string())


def null_column(kind: AttrType | None, rows: int) -> pa.Array:
    """An all-NULL column of the Parquet type `parquet_column` gives that kind."""
    if kind is None:
        return pa.nulls(rows, pa.bool_())
    return pa.nulls(rows, _ARROW.get(kind, pa.string()))
