"""PostgreSQL's column type for each attribute type: the same in staging tables and in a PostgreSQL warehouse."""

from __future__ import annotations

from ferry.schema.model import Attribute
from ferry.schema.types import AttrType

PG_TYPES: dict[AttrType, str] = {
    AttrType.STRING: "varchar",
    AttrType.MEMO: "text",
    AttrType.UUID: "varchar(36)",
    AttrType.BOOLEAN: "boolean",
    AttrType.BYTE: "smallint",
    AttrType.SHORT: "smallint",
    AttrType.LONG: "integer",
    AttrType.INT: "integer",
    AttrType.INT64: "bigint",
    AttrType.DOUBLE: "double precision",
    AttrType.FLOAT: "double precision",
    AttrType.DATE: "date",
    AttrType.DATETIME: "timestamptz",
    AttrType.DATETIMETZ: "timestamptz",
    AttrType.DATETIMENOTZ: "timestamp",
    AttrType.TIME: "time",
}


def column_type(attr: Attribute) -> str:
    """The PostgreSQL type of an attribute's column (a string's declared length kept)."""
    if attr.type is AttrType.STRING and attr.length:
        return f"varchar({attr.length})"
    return PG_TYPES[attr.type]
