"""Campaign system schemas ferry answers from staging: `xtk:option`, `xtk:operator` (read-only), `xtk:enumValue`.

Each is a read-only view a queryDef compiles against (PostgreSQL dialect) and runs on the staging database, never
the warehouse. `xtk:operator` never shows a password hash: an admin sees every operator, anyone else only its own
record. `xtk:enumValue` lists the values of the enumerations ferry's schemas declare; `[enum/@name]` names the
enumeration (its name without the schema id, e.g. `gender`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ferry import errors, options
from ferry.auth.models import AuthError, Operator
from ferry.query.compiler import CompiledQuery, compile_query
from ferry.query.querydef import QueryDef, register_paths
from ferry.query.run import MAX_ROWS
from ferry.schema.model import Attribute, Key, Schema
from ferry.schema.postgres_types import column_type
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import AttrType

TableBuilder = Callable[[psycopg.Connection[Any], SchemaRegistry, Operator], str]


@dataclass(frozen=True)
class SystemView:
    """A schema answered from staging: its description, the SQL of its rows for a caller, who may query it."""

    schema: Schema
    table: TableBuilder
    admin_only: bool = False


def _operator_table(conn: psycopg.Connection[Any], registry: SchemaRegistry, operator: Operator) -> str:
    # Rights as text: `admin`, else the schemas it may ingest into; read-only schemas apart. No password hash.
    query: sql.Composable = sql.SQL(
        'SELECT id AS "id", login AS "name", login AS "label", disabled AS "disabled", admin AS "admin", '
        "CASE WHEN admin THEN 'admin' ELSE array_to_string(schemas, ',') END AS \"rights\", "
        "array_to_string(read_schemas, ',') AS \"readRights\", created_at AS \"created\", "
        'updated_at AS "lastModified" FROM ferry.operators')
    if not operator.admin:
        query = sql.SQL("{} WHERE id = {}").format(query, sql.Literal(operator.id))
    return sql.SQL("({}) AS {}").format(query, sql.Identifier("operator")).as_string(conn)


OPERATOR = Schema(
    namespace="xtk", name="operator", label="Operators", autopk=True,
    attributes=(
        Attribute("id", AttrType.INT64, label="Primary key", sqlname="iOperatorId"),
        Attribute("name", AttrType.STRING, 64, label="Login", sqlname="sName"),
        Attribute("label", AttrType.STRING, 128, label="Label", sqlname="sLabel"),
        Attribute("disabled", AttrType.BOOLEAN, label="Disabled", sqlname="iDisabled"),
        Attribute("admin", AttrType.BOOLEAN, label="Administrator (ferry)", sqlname="iAdmin"),
        Attribute("rights", AttrType.MEMO, label="Rights (admin, or the schemas it may ingest into)",
                  sqlname="mRights"),
        Attribute("readRights", AttrType.MEMO, label="Schemas it may only read", sqlname="mReadRights"),
        Attribute("created", AttrType.DATETIME, label="Creation date", sqlname="tsCreated"),
        Attribute("lastModified", AttrType.DATETIME, label="Last modified", sqlname="tsLastModified"),
    ),
    keys=(Key("name", ("name",)), Key("id", ("id",), internal=True)),
)

ENUM_VALUE = Schema(
    namespace="xtk", name="enumValue", label="Enumeration values", autopk=True,
    attributes=(
        Attribute("id", AttrType.INT64, label="Primary key", sqlname="iEnumValueId"),
        Attribute("name", AttrType.STRING, 64, label="Internal name", sqlname="sName"),
        Attribute("label", AttrType.STRING, 128, label="Label", sqlname="sLabel"),
        Attribute("value", AttrType.STRING, 255, label="Stored value", sqlname="sValue"),
        Attribute("img", AttrType.STRING, 255, label="Image", sqlname="sImg"),
        Attribute("order", AttrType.INT64, label="Order", sqlname="iOrder"),
        Attribute("enumName", AttrType.STRING, 64, label="Enumeration ([enum/@name])", sqlname="sEnumName"),
        Attribute("enumLabel", AttrType.STRING, 128, label="Enumeration label ([enum/@label])", sqlname="sEnumLabel"),
        Attribute("schema", AttrType.STRING, 64, label="Schema declaring the enumeration", sqlname="sSchema"),
    ),
    keys=(Key("id", ("id",), internal=True),),
)


def _enum_value_table(conn: psycopg.Connection[Any], registry: SchemaRegistry, operator: Operator) -> str:
    names = ENUM_VALUE.attribute_names
    rows: list[tuple[Any, ...]] = []
    for schema in registry:
        for enum in schema.enumerations:
            for order, item in enumerate(enum.values):
                rows.append((len(rows) + 1, item.name, item.label, item.value, None, order, enum.name, enum.label,
                             schema.id))
    casts = [sql.SQL(column_type(ENUM_VALUE.attribute(name))) for name in names]  # type: ignore[arg-type]
    header = sql.SQL(", ").join(sql.SQL("CAST(NULL AS {}) AS {}").format(cast, sql.Identifier(name))
                                for cast, name in zip(casts, names, strict=True))
    parts = [sql.SQL("SELECT {} WHERE false").format(header)]
    for row in rows:
        cells = sql.SQL(", ").join(sql.SQL("CAST({} AS {})").format(sql.Literal(value), cast)
                                   for value, cast in zip(row, casts, strict=True))
        parts.append(sql.SQL("SELECT {}").format(cells))
    union = sql.SQL(" UNION ALL ").join(parts)
    return sql.SQL("({}) AS {}").format(union, sql.Identifier("enumValue")).as_string(conn)


def _option_table(conn: psycopg.Connection[Any], registry: SchemaRegistry, operator: Operator) -> str:
    return options.query_table(conn)


VIEWS: dict[str, SystemView] = {
    options.SCHEMA_ID: SystemView(options.SCHEMA, _option_table, admin_only=True),
    OPERATOR.id: SystemView(OPERATOR, _operator_table),
    ENUM_VALUE.id: SystemView(ENUM_VALUE, _enum_value_table),
}
register_paths(ENUM_VALUE.id, {"enum/@name": "enumName", "enum/@label": "enumLabel"})


def view(schema_id: str) -> SystemView | None:
    """The system view answering queries on `schema_id`, or None."""
    return VIEWS.get(schema_id)


def require_view(operator: Operator, view: SystemView) -> None:
    """Refuse (FRY-… 403) an operator who may not query `view` (xtk:option: admins only)."""
    if view.admin_only and not operator.admin:
        raise AuthError(errors.QUERY_FORBIDDEN, f"operator {operator.login!r} has no right to read "
                        f"{view.schema.id} (admins only)", http_status=403)


def run_view(pool: Any, registry: SchemaRegistry, operator: Operator, query: QueryDef, view: SystemView,
             compile_only: bool = False) -> tuple[CompiledQuery, list[Any]]:
    """Compile `query` against the view's rows for `operator` and run it on staging (blocking); the rows are
    empty when `compile_only`. SOAP's ExecuteQuery / queryDef methods and workflow scripts all read this way."""
    with pool.connection() as conn:
        table = view.table(conn, registry, operator)
        compiled = compile_query(query, view.schema, table, "postgres", max_rows=MAX_ROWS)
        if compile_only:
            return compiled, []
        return compiled, list(conn.execute(compiled.sql, compiled.params).fetchall())
