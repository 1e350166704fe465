"""Staging table DDL derived from a staged schema, and its evolution."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from ferry.schema.model import Schema
from ferry.schema.postgres_types import column_type
from ferry.schema.table_names import table_name
from ferry.schema.types import AttrType

STAGING_SCHEMA = "ferry_stg"

# Bookkeeping columns of every staging table, in order. Attribute names never start with "_". A row is written once:
# its state is derived from the schema's applied horizon and the sync's exceptions (`ferry.staging.outcomes`).
SYSTEM_COLUMNS = ("_seq", "_uuid", "_request_id", "_op", "_key", "_present", "_received_at")

# Columns of the old layout (migrations 0001-0060), which the sync updated row by row; `ferry.staging.upgrade`
# converts tables that still have them.
LEGACY_COLUMNS = ("_state", "_reason", "_batch_id", "_done_at")

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
    return table_name(schema.id)


def table_ident(schema: Schema) -> sql.Identifier:
    """The qualified, quoted staging table of `schema`."""
    return sql.Identifier(STAGING_SCHEMA, staging_table_name(schema))



def sequence_name(schema: Schema) -> str:
    """The sequence giving `_seq` to the rows of `schema`'s staging table (in schema `ferry_stg`)."""
    return f"{staging_table_name(schema)}__seq"


def create_table(schema: Schema, *, name: str | None = None) -> list[sql.Composed]:
    """Statements creating the staging table of `schema` (or a table `name` with its layout) and its indexes.

    `_seq` comes from a plain sequence owned by the table (CACHE 1, so values are handed out in time order across
    sessions): the sync's horizon reads its last value. The table is partitioned by `_seq` range
    (`ferry.staging.partitions`). `_uuid` is indexed, not unique: a re-queued row is a new row
    with the UUID of the one it replaces.
    """
    name = name or staging_table_name(schema)
    table = sql.Identifier(STAGING_SCHEMA, name)
    sequence = sql.Identifier(STAGING_SCHEMA, f"{name}__seq")
    columns = [sql.SQL("{} {}").format(sql.Identifier(attr.name), sql.SQL(column_type(attr)))
               for attr in schema.attributes]
    create = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ("
        "_seq bigint NOT NULL DEFAULT nextval({seq_text}::regclass) PRIMARY KEY, "
        "_uuid uuid NOT NULL, "
        "_request_id uuid NOT NULL, "
        "_op text NOT NULL CHECK (_op IN ('insert', 'insertOrUpdate', 'update', 'delete')), "
        "_key text[], "
        "_present text[] NOT NULL, "
        "_received_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
        "{columns}) PARTITION BY RANGE (_seq)"
    ).format(table=table, seq_text=sql.Literal(f"{STAGING_SCHEMA}.{name}__seq"),
             columns=sql.SQL(", ").join(columns))
    return [
        sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS bigint CACHE 1").format(sequence),
        create,
        sql.SQL("ALTER SEQUENCE {} OWNED BY {}._seq").format(sequence, table),
        # Range partitions are made ahead by `ferry.staging.partitions.ensure`; this one only catches overruns.
        sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} DEFAULT").format(
            sql.Identifier(STAGING_SCHEMA, f"{name}__default"), table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_uuid)").format(sql.Identifier(f"{name}_uuid"), table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (_request_id)").format(sql.Identifier(f"{name}_request"), table),
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
