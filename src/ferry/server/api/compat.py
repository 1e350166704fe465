"""Campaign compatibility at the SOAP router (issue 25): options, queryDef's other methods, the system views, and one
coded refusal (FRY-400030) for the Campaign methods ferry does not serve.

- `xtk:session#GetOption` reads `ferry.options` (ferry's own read-only options, then those stored in staging);
  `Write` / `WriteCollection` of `xtk:option` records (what `client.setOption` sends) store them, admins only.
- `xtk:queryDef#SelectAll` answers the query with every attribute selected (as `entity`, which the SDK takes as the
  query itself); `BuildQuery` / `BuildQueryEx` answer the statement ferry would run (admins only); `Analyze` the
  query's select nodes with their types, labels and enumerations.
- `xtk:option`, `xtk:operator`, `xtk:enumValue` are queried on staging (`ferry.system_views`), never the warehouse.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lxml import etree

from ferry import errors, options, system_views
from ferry.auth import AuthError, Operator
from ferry.errors import FerryError
from ferry.query import QueryDef, QueryNotFound, analyzed, compile_query, parse_query_def, rows_to_xml
from ferry.query.compiler import CompiledQuery
from ferry.query.methods import describe_query, format_string, select_all, statement_text
from ferry.query.run import MAX_ROWS
from ferry.schema import not_served
from ferry.schema.model import Attribute, Schema
from ferry.server.api.queries import QUERY_URNS, not_found_fault, require_read, resolve_schema
from ferry.server.api.soap import PERSIST_URNS, SESSION_URNS, SoapContext, SoapRouter
from ferry.soap import writer
from ferry.soap.writer import Output
from ferry.system_views import SystemView
from ferry.warehouse.tables import quote, system_attributes, table_name

QUERY_DOC_PARAMS = ("document", "queryDef", "entity")
# The persist interface of the schemas whose description implements it (`xtk:operator`).
PERSIST_SERVICE_URNS = PERSIST_URNS | {"xtk:persist|xtk:operator", "xtk:persist|xtk:queryDef"}


# -- options ------------------------------------------------------------------------------------------------------


def _read_option(runtime: Any, name: str) -> options.Option:
    with runtime.db.pool.connection() as conn:
        return options.read_option(conn, name)


async def get_option(ctx: SoapContext) -> list[Output]:
    """`xtk:session#GetOption`: the value text and the Campaign data type ("" and 0 for an unknown option)."""
    option = await asyncio.to_thread(_read_option, ctx.runtime, ctx.soap.text(("name", "strName"), 1))
    return [writer.string("pstrValue", option.value), writer.number("pbyteType", option.data_type, "xsd:byte")]


async def write_options(ctx: SoapContext, document: etree._Element) -> None:
    """Store the `<option>` records of a Write / WriteCollection (admins only), all or none."""
    operator = ctx.operator
    assert operator is not None
    await asyncio.to_thread(options.store_options, ctx.runtime.db.pool, document, operator)


# -- queries on the system views ----------------------------------------------------------------------------------


def _run_view(runtime: Any, operator: Operator, query: QueryDef, view: SystemView,
              compile_only: bool = False) -> tuple[CompiledQuery, list[Any]]:
    return system_views.run_view(runtime.db.pool, runtime.registry, operator, query, view, compile_only)


async def execute_view_query(ctx: SoapContext, query: QueryDef, view: SystemView) -> list[Output]:
    """ExecuteQuery on xtk:option, xtk:operator or xtk:enumValue: read on staging."""
    assert ctx.operator is not None
    system_views.require_view(ctx.operator, view)
    compiled, rows = await asyncio.to_thread(_run_view, ctx.runtime, ctx.operator, query, view)
    names = [column.name for column in compiled.columns]
    try:
        result = rows_to_xml(query, query.schema_short_name, compiled.columns, rows,
                             analyzed(query, view.schema, names))
    except QueryNotFound as exc:
        raise not_found_fault(exc) from None
    return [writer.element("pdomOutput", etree.tostring(result, encoding="unicode"))]


# -- xtk:queryDef's other methods ---------------------------------------------------------------------------------


def _document(ctx: SoapContext) -> etree._Element:
    document = ctx.soap.document(QUERY_DOC_PARAMS, 1)
    if document is None:
        raise FerryError(errors.SOAP_MISSING_PARAMETER, f"{ctx.soap.method} needs the <queryDef> as its document "
                         "parameter")
    return document


async def _target(ctx: SoapContext, query: QueryDef) -> tuple[Schema, SystemView | None]:
    """The schema a query reads and, for a system view, the view; read right checked."""
    assert ctx.operator is not None
    view = system_views.view(query.schema_id)
    if view is not None:
        system_views.require_view(ctx.operator, view)
        return view.schema, view
    schema = await resolve_schema(ctx.runtime, query.schema_id)
    require_read(ctx.runtime, ctx.operator, schema)
    return schema, None


async def select_all_method(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#SelectAll(duplicate)`: the query with every attribute selected, answered as `entity`."""
    document = _document(ctx)
    query = parse_query_def(document)
    schema, view = await _target(ctx, query)
    attributes: tuple[Attribute, ...] = schema.attributes if view is not None \
        else (*schema.attributes, *system_attributes(schema))
    return [writer.element("entity", select_all(document, attributes))]


async def _compiled(ctx: SoapContext) -> tuple[etree._Element, Schema, CompiledQuery, str]:
    """The query compiled as ExecuteQuery would run it, and its placeholder."""
    assert ctx.operator is not None
    document = _document(ctx)
    query = parse_query_def(document)
    schema, view = await _target(ctx, query)
    if view is not None:
        compiled, _ = await asyncio.to_thread(_run_view, ctx.runtime, ctx.operator, query, view, True)
        return document, schema, compiled, "%s"
    dialect = ctx.runtime.warehouse.dialect
    compiled = compile_query(query, schema, quote(table_name(schema)), dialect, max_rows=MAX_ROWS)
    return document, schema, compiled, "?" if dialect == "duckdb" else "%s"


def _require_admin(ctx: SoapContext) -> None:
    operator = ctx.operator
    assert operator is not None
    if not operator.admin:
        raise AuthError(errors.FORBIDDEN, f"{ctx.soap.method} shows the warehouse statement: admins only "
                        f"(operator {operator.login!r} is not one)", http_status=403)


async def build_query(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#BuildQuery`: the SQL ferry would run for the query (admins only)."""
    _require_admin(ctx)
    _, _, compiled, placeholder = await _compiled(ctx)
    return [writer.string("pstrSql", statement_text(compiled, placeholder))]


async def build_query_ex(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#BuildQueryEx`: the SQL and the select nodes' types, comma-separated (admins only)."""
    _require_admin(ctx)
    _, _, compiled, placeholder = await _compiled(ctx)
    return [writer.string("pstrSql", statement_text(compiled, placeholder)),
            writer.string("pstrFormat", format_string(compiled.columns))]


async def analyze(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#Analyze`: the query with one select node per result column (name, type, label, enum)."""
    document, schema, compiled, _ = await _compiled(ctx)
    return [writer.element("pdomOutput", describe_query(document, schema, compiled.columns))]


# -- what ferry does not serve ------------------------------------------------------------------------------------


async def not_served_method(ctx: SoapContext) -> list[Output]:
    """A Campaign method ferry describes (so clients send it) but does not implement: FRY-400030."""
    raise not_served.method_fault(ctx.soap.urn, ctx.soap.method)


def register_soap(router: SoapRouter) -> None:
    """GetOption from ferry.options, queryDef's other methods, and the described-but-refused Campaign methods."""
    router.add(SESSION_URNS, "GetOption", get_option)
    router.add(QUERY_URNS, "SelectAll", select_all_method)
    router.add(QUERY_URNS, "BuildQuery", build_query)
    router.add(QUERY_URNS, "BuildQueryEx", build_query_ex)
    router.add(QUERY_URNS, "Analyze", analyze)
    for name in not_served.SESSION_METHODS:
        router.add(SESSION_URNS, name, not_served_method)
    for name in not_served.PERSIST_METHODS:
        router.add(PERSIST_SERVICE_URNS, name, not_served_method)
    for name in not_served.WORKFLOW_METHODS:
        router.add(frozenset({"xtk:workflow"}), name, not_served_method)
