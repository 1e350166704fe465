"""Staging table DDL derived from a staged schema, and its evolution."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from ferry.schema.model import Attribute, Schema
from ferry.schema.types import AttrType

STAGING_SCHEMA = "ferry_stg"

# Room on each page for the sync's two updates of a row (claim stamps `_batch_id`, mark sets `_state`): the new row
# versions stay on the row's page, and the claim, which changes no indexed column, is a HOT update (no index entry).
FILLFACTOR = 50

# Bookkeeping columns of every staging table, in order. Attribute names never start with "_".
SYSTEM_COLUMNS = ("_seq", "_uuid", "_request_id", "_op", "_key", "_present", "_received_at", "_state", "_reason",
                  "_batch_id", "_done_at")

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

# Names psycopg's binary COPY needs for each column type.
COPY_TYPES: dict[AttrType, str] = {
    AttrType.STRING: "varchar",
    AttrType.MEMO: "text",
    AttrType.UUID: "varchar",
    AttrType.BOOLEAN: "bool",
    AttrType.BYTE: "int2",
    AttrType.SHORT: "int2",
    AttrType.LONG: "int4",
    AttrType.INT: "int4",
    AttrType.INT64: "int8",
    AttrType.DOUBLE: "float8",
    AttrType.FLOAT: "float8",
    AttrType.DATE: "date",
    AttrType.DATETIME: "timestamptz",
    AttrType.DATETIMETZ: "timestamptz",
    AttrType.DATETIMENOTZ: "timestamp",
    AttrType.TIME: "time",
}


def staging_table_name(schema: Schema) -> str:
    """`nms:recipient` → `nms_recipient` (in schema `ferry_stg`)."""
    return f"{schema.namespace}_{schema.name}".lower()


def table_ident(schema: Schema) -> sql.Identifier:
    """The qualified, quoted staging table of `schema`."""
    return sql.Identifier(STAGING_SCHEMA, staging_table_name(schema))


def column_type(attr: Attribute) -> str:
    """The PostgreSQL type of an attribute's staging column."""
    if attr.type is AttrType.STRING and attr.length:
        return f"varchar({attr.length})"
    return PG_TYPES[attr.type]


def create_table(schema: Schema) -> list[sql.Composed]:
    """Statements creating the staging table of `schema` and its indexes."""
    table = table_ident(schema)
    name = staging_table_name(schema)
    columns = [sql.SQL("{} {}").format(sql.Identifier(attr.name), sql.SQL(column_type(attr)))
               for attr in schema.attributes]
    create = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ("
        "_seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "_uuid uuid NOT NULL UNIQUE, "
        "_request_id uuid NOT NULL, "
        "_op text NOT NULL CHECK (_op IN ('insert', 'insertOrUpdate', 'update', 'delete')), "
        "_key text[], "
        "_present text[] NOT NULL, "
        "_received_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
        "_state text NOT NULL DEFAULT 'staged' CHECK (_state IN ('staged', 'synced', 'skipped', 'failed')), "
        "_reason text, "
        "_batch_id uuid, "
        "_done_at timestamptz, "
        "{columns}) WITH (fillfactor = {ff})"
    ).format(table=table, columns=sql.SQL(", ").join(columns), ff=sql.Literal(FILLFACTOR))
    return [
        create,
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_seq) WHERE _state = 'staged'").format(
            sql.Identifier(f"{name}_pending"), table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_request_id)").format(sql.Identifier(f"{name}_request"), table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_done_at) WHERE _state IN ('synced', 'skipped')").format(
            sql.Identifier(f"{name}_done"), table),
    ]


def layout(schema: Schema) -> list[sql.Composed]:
    """Idempotent statements bringing an existing staging table to the current layout (storage, indexes).

    No index may hold `_batch_id` (its rows are found by `_seq` range and batch id): stamping it stays HOT.
    """
    name = staging_table_name(schema)
    return [
        sql.SQL("ALTER TABLE {} SET (fillfactor = {})").format(table_ident(schema), sql.Literal(FILLFACTOR)),
        sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(STAGING_SCHEMA, f"{name}_batch")),
    ]


@dataclass
class SchemaChange:
    """What applying a schema did (or would do) to its staging table."""

    schema_id: str
    created: bool = False
    added: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the table was created or altered."""
        return self.created or bool(self.added or self.widened)
