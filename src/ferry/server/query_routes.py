"""Reading the warehouse: SOAP `xtk:queryDef#ExecuteQuery` and REST `GET /api/v1/data/{ns}/{name}`.

Both go through `ferry.query` (expressions parsed into a tree, compiled to SQL with bound values) and run on the
warehouse on its own bounded threads (`runtime.reads`). Only staged schemas have a warehouse table; a query on
another schema is refused.
Read right: the admin right, or the ingest right on the schema (whoever may write a schema may read it back).
`get` with no row is the fault `XSV-350123 The record was not found …` (Campaign's code first, as the SDK wants).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from lxml import etree

from ferry import errors
from ferry.auth import AuthError, Operator
from ferry.errors import FerryError
from ferry.query import (
    QueryDef,
    QueryNotFound,
    compile_query,
    parse_query_def,
    query_from_params,
    rows_to_json,
    rows_to_xml,
)
from ferry.query.compiler import CompiledQuery
from ferry.schema.model import Schema
from ferry.server.soap_routes import SoapContext, SoapRouter
from ferry.soap import writer
from ferry.soap.writer import Output
from ferry.warehouse.base import Warehouse
from ferry.warehouse.tables import quote, table_name

QUERY_URNS = frozenset({"xtk:queryDef", "xtk:persist|xtk:queryDef"})
# Rows one select may return (lineCount is honoured below this).
MAX_ROWS = 100_000
REST_DEFAULT_LIMIT = 100


class CampaignFault(AuthError):
    """A refusal whose SOAP faultstring starts with a Campaign `XSV-…` code (the router sends those as is)."""


def not_found_fault(exc: QueryNotFound) -> CampaignFault:
    """`get` with no row: the SOAP fault starts with `XSV-350123` (REST: 404)."""
    return CampaignFault(exc.code, exc.message, campaign_code=exc.campaign_code, http_status=404)


def require_read(runtime: Any, operator: Operator, schema: Schema) -> None:
    """Admin, or the ingest right on the schema, reads it."""
    if not runtime.auth.can_ingest(operator, schema.id):
        raise AuthError(errors.QUERY_FORBIDDEN, f"operator {operator.login!r} has no right to read {schema.id}",
                        http_status=403)


async def resolve_schema(runtime: Any, schema_id: str) -> Schema:
    """The staged schema a query names (`ns:name`, or its `ns:nameStg`)."""
    try:
        return runtime.registry.resolve_staged(schema_id)  # type: ignore[no-any-return]
    except FerryError as exc:
        if exc.code not in (errors.UNKNOWN_SCHEMA, errors.SCHEMA_NOT_STAGED) or not await runtime.refresh_schemas():
            raise
    return runtime.registry.resolve_staged(schema_id)  # type: ignore[no-any-return]


_ensured: dict[tuple[int, str], bool] = {}
_ensured_lock = threading.Lock()


def ensure_table(warehouse: Warehouse, schema: Schema) -> None:
    """Create the schema's table before its first read (a schema never synced yet reads as empty)."""
    key = (id(warehouse), f"{schema.id}/{len(schema.attributes)}")
    with _ensured_lock:
        if key in _ensured:
            return
    warehouse.ensure_table(schema)
    with _ensured_lock:
        _ensured[key] = True


def run_query(runtime: Any, query: QueryDef, schema: Schema, max_rows: int) -> tuple[CompiledQuery, list[Any]]:
    """Compile and run on the warehouse (blocking: call it in a worker thread)."""
    warehouse: Warehouse = runtime.warehouse
    compiled = compile_query(query, schema, quote(table_name(schema)), warehouse.dialect, max_rows=max_rows)
    ensure_table(warehouse, schema)
    return compiled, warehouse.select(compiled.sql, compiled.params)


# -- SOAP ---------------------------------------------------------------------------------------------------------


async def execute_query(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#ExecuteQuery`: the `document` (this) is the queryDef; the output is `pdomOutput`."""
    assert ctx.operator is not None
    document = ctx.soap.document(("document", "queryDef", "entity"), 1)
    if document is None:
        raise FerryError(errors.SOAP_MISSING_PARAMETER, "ExecuteQuery needs the <queryDef> as its document "
                         "parameter")
    query = parse_query_def(document)
    schema = await resolve_schema(ctx.runtime, query.schema_id)
    require_read(ctx.runtime, ctx.operator, schema)
    compiled, rows = await ctx.runtime.reads.run(run_query, ctx.runtime, query, schema, MAX_ROWS)
    try:
        result = rows_to_xml(query, query.schema_short_name, compiled.columns, rows)
    except QueryNotFound as exc:
        raise not_found_fault(exc) from None
    return [writer.element("pdomOutput", etree.tostring(result, encoding="unicode"))]


def register_soap(router: SoapRouter) -> None:
    """Serve ExecuteQuery."""
    router.add(QUERY_URNS, "ExecuteQuery", execute_query)


# -- REST ---------------------------------------------------------------------------------------------------------


def build_router(runtime: Any, current_operator: Any) -> APIRouter:
    """`GET /api/v1/data/{ns}/{name}`: the JSON mirror of ExecuteQuery."""
    from ferry.server.rest import API_PREFIX, FerryRoute

    api = APIRouter(prefix=API_PREFIX, tags=["data"], route_class=FerryRoute)
    Caller = Annotated[Operator, Depends(current_operator)]

    @api.get("/data/{ns}/{name}", summary="Read records from the warehouse (the JSON mirror of ExecuteQuery)")
    async def read_data(
        request: Request, ns: str, name: str, operator: Caller,
        fields: Annotated[str | None, Query(description="Attributes to return, comma-separated "
                                                        "(default: every attribute)", examples=["email,firstName"])]
        = None,
        filter: Annotated[str | None, Query(description="An xtk condition, e.g. `@email like '%@x.com'`; values "
                                                        "are bound, never pasted into SQL")] = None,
        order: Annotated[str | None, Query(description="Attributes to sort by, `-` for descending",
                                           examples=["-email"])] = None,
        limit: Annotated[int, Query(ge=0, le=MAX_ROWS)] = REST_DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """`{schema, rows: [{attr: value}], count}`; rights as ExecuteQuery (admin or ingest right)."""
        query = query_from_params(f"{ns}:{name}", fields=fields, filter=filter, order=order, limit=limit,
                                  offset=offset)
        schema = await resolve_schema(runtime, query.schema_id)
        require_read(runtime, operator, schema)
        compiled, rows = await runtime.reads.run(run_query, runtime, query, schema, MAX_ROWS)
        result = rows_to_json(query, compiled.columns, rows)
        return {"schema": schema.id, "rows": result, "count": len(result)}

    return api
