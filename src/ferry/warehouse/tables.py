"""The warehouse table of a staged schema: its name, columns, types and literal defaults."""

from __future__ import annotations

from typing import Any

from ferry.errors import FerryError
from ferry.schema.model import Attribute, Schema
from ferry.schema.table_names import table_name as schema_table_name
from ferry.schema.types import AttrType, coerce

# Timestamps ferry maintains itself when the schema does not declare them.
CREATED = "created"
LAST_MODIFIED = "lastModified"
LEDGER = "ferry_ledger"

DUCKDB_TYPES: dict[AttrType, str] = {
    AttrType.STRING: "VARCHAR",
    AttrType.MEMO: "VARCHAR",
    AttrType.UUID: "VARCHAR",
    AttrType.BOOLEAN: "BOOLEAN",
    AttrType.BYTE: "SMALLINT",
    AttrType.SHORT: "SMALLINT",
    AttrType.LONG: "INTEGER",
    AttrType.INT: "INTEGER",
    AttrType.INT64: "BIGINT",
    AttrType.DOUBLE: "DOUBLE",
    AttrType.FLOAT: "DOUBLE",
    AttrType.DATE: "DATE",
    AttrType.DATETIME: "TIMESTAMPTZ",
    AttrType.DATETIMETZ: "TIMESTAMPTZ",
    AttrType.DATETIMENOTZ: "TIMESTAMP",
    AttrType.TIME: "TIME",
}


def quote(name: str) -> str:
    """A double-quoted SQL identifier (attribute names are validated, but quote anyway)."""
    return '"' + name.replace('"', '""') + '"'


def table_name(schema: Schema) -> str:
    """`nms:recipient` → `nms_recipient`, the same name as its staging table."""
    return schema_table_name(schema.id)


def stamp_columns(schema: Schema) -> list[str]:
    """The timestamps ferry adds: `created` and `lastModified`, unless the schema has its own."""
    return [name for name in (CREATED, LAST_MODIFIED) if schema.attribute(name) is None]


_STAMP_LABELS = {CREATED: "Creation date", LAST_MODIFIED: "Last modified"}


def system_attributes(schema: Schema) -> tuple[Attribute, ...]:
    """Campaign's `@created` / `@lastModified`: the stamp columns, as read-only datetime attributes.

    The sync and Write set them (insert: both; update: lastModified), so queries and getSchema may show them;
    documents cannot carry them (reserved names)."""
    return tuple(Attribute(name=name, type=AttrType.DATETIME, label=_STAMP_LABELS[name])
                 for name in stamp_columns(schema))


def default_literal(attr: Attribute) -> Any:
    """The attribute's default when it is a literal (`0`, `'text'`, `false`); None for expressions like GetDate()."""
    text = attr.default
    if text is None:
        return None
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    elif "(" in text or text == "":
        return None
    try:
        return coerce(attr.type, text, None)
    except FerryError:
        return None
