"""The schemas applied to a staging database: stored as XML, with their staging tables kept in step."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.loader import builtin_schemas, parse_schema
from ferry.schema.model import Schema
from ferry.schema.postgres_types import column_type
from ferry.schema.registry import SchemaRegistry
from ferry.schema.staging import with_internal_id
from ferry.schema.table_names import check_new_table, shared_tables
from ferry.staging import notify, outcomes, partitions
from ferry.staging.ddl import STAGING_SCHEMA, SchemaChange, create_table, staging_table_name

_APPLY_LOCK = 0x46455253  # "FERS"


class SchemaCatalog:
    """Reads and applies schemas; every ferry process of one staging database sees the same set."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def load(self) -> SchemaRegistry:
        """Every applied schema (built-ins included)."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT id, source_xml FROM ferry.schemas ORDER BY id").fetchall()
        return SchemaRegistry(parse_schema(xml, origin=f"stored schema {schema_id}") for schema_id, xml in rows)

    def shared_tables(self) -> dict[str, list[str]]:
        """Tables claimed by several stored schemas (applied before ferry refused it): table → schema ids."""
        with self._pool.connection() as conn:
            return shared_tables(row[0] for row in conn.execute("SELECT id FROM ferry.schemas"))

    def install_builtins(self) -> list[SchemaChange]:
        """Apply the shipped schemas unless a user version of them is already stored (a shipped one stored by an
        older ferry is brought up to date, e.g. with the enumerations it gained)."""
        changes = []
        with self._pool.connection() as conn:
            stored = {row[0]: (row[1], row[2])
                      for row in conn.execute("SELECT id, builtin, source_xml FROM ferry.schemas")}
        for schema in builtin_schemas():
            builtin, source = stored.get(schema.id, (True, None))
            if builtin and source != schema.source_xml:
                changes.append(self.apply(schema, builtin=True))
        return changes

    def install_notify(self) -> list[str]:
        """Give every staging table its NOTIFY trigger (one rebuilt by a later migration lost it)."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPLY_LOCK,))
            return notify.install_all(conn)

    def apply(self, schema: Schema, *, builtin: bool = False) -> SchemaChange:
        """Store `schema` and create or evolve its staging table; never drops a column or data."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPLY_LOCK,))
            # Two schemas must never share a staging or warehouse table (each would read and write the other's rows).
            check_new_table(schema.id, [row[0] for row in conn.execute("SELECT id FROM ferry.schemas")])
            change = SchemaChange(schema_id=schema.id)
            if schema.staged:
                change = _sync_table(conn, with_internal_id(schema))
                # Its NOTIFY trigger wakes the continuous sync.
                notify.install(conn, sql.Identifier(STAGING_SCHEMA, staging_table_name(schema)), schema.id)
            elif _table_exists(conn, staging_table_name(schema)):
                pending = outcomes.unsynced(conn, schema)
                if pending:
                    raise FerryError(errors.INCOMPATIBLE_CHANGE, f"{schema.id}: removing autoStg would strand "
                                     f"{pending} unsynced staged rows; sync them first")
            conn.execute(
                "INSERT INTO ferry.schemas (id, source_xml, staged, stg_table, builtin) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET source_xml = EXCLUDED.source_xml, staged = EXCLUDED.staged, "
                "stg_table = EXCLUDED.stg_table, builtin = EXCLUDED.builtin, applied_at = now(), "
                "revision = ferry.schemas.revision + 1",
                (schema.id, schema.source_xml, schema.staged,
                 staging_table_name(schema) if schema.staged else None, builtin),
            )
            conn.execute("SELECT pg_notify('ferry_schemas', %s)", (schema.id,))
            return change


def _table_exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f"{STAGING_SCHEMA}.{table}",)).fetchone()
    return row is not None and row[0] is not None


def _existing_columns(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, int | None]]:
    rows = conn.execute(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (STAGING_SCHEMA, table),
    ).fetchall()
    return {name: (data_type, length) for name, data_type, length in rows if not name.startswith("_")}


def _sync_table(conn: psycopg.Connection, schema: Schema) -> SchemaChange:
    table = staging_table_name(schema)
    change = SchemaChange(schema_id=schema.id)
    if not _table_exists(conn, table):
        for statement in [*create_table(schema), *outcomes.view_statements(schema)]:
            conn.execute(statement)
        partitions.ensure(conn, schema)
        change.created = True
        return change
    # The rows view depends on the table's columns: dropped before they change, made again below.
    conn.execute(outcomes.view_statements(schema)[0])
    existing = _existing_columns(conn, table)
    ident = sql.Identifier(STAGING_SCHEMA, table)
    for attr in schema.attributes:
        wanted = column_type(attr)
        if attr.name not in existing:
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                ident, sql.Identifier(attr.name), sql.SQL(wanted)))
            change.added.append(attr.name)
            continue
        data_type, length = existing[attr.name]
        if wanted.startswith("varchar(") and data_type == "character varying":
            new_length = int(wanted[len("varchar("):-1])
            if length is not None and new_length > length:
                conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
                    ident, sql.Identifier(attr.name), sql.SQL(wanted)))
                change.widened.append(attr.name)
            elif length is not None and new_length < length:
                change.refused.append(f"{attr.name}: length {length} → {new_length} would truncate data; kept {length}")
        elif _pg_family(wanted) != data_type:
            raise FerryError(errors.INCOMPATIBLE_CHANGE, f"{schema.id}: attribute {attr.name!r} changes type from "
                             f"{data_type} to {wanted}; add a new attribute instead")
    for statement in outcomes.view_statements(schema):
        conn.execute(statement)
    names = set(schema.attribute_names)
    change.removed = sorted(name for name in existing if name not in names)
    return change


_FAMILY = {
    "varchar": "character varying",
    "varchar(36)": "character varying",
    "text": "text",
    "boolean": "boolean",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "double precision": "double precision",
    "date": "date",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "time": "time without time zone",
}


def _pg_family(pg_type: str) -> str:
    if pg_type.startswith("varchar"):
        return "character varying"
    return _FAMILY[pg_type]
