"""Reading the warehouse: SOAP `xtk:queryDef#ExecuteQuery` and REST `GET /api/v1/data/{ns}/{name}`.

Both go through `ferry.query` (expressions parsed into a tree, compiled to SQL with bound values) and run on the
warehouse on its own bounded threads (`runtime.reads`). Every data schema has a warehouse table (staged ones,
`nms:service`, `nms:subHisto`, any applied schema); a query on anything else is refused with FRY-700008.
Read right: the admin right, or the ingest right on the schema (whoever may write a schema may read it back).
`get` with no row is the fault `XSV-350123 The record was not found …` (Campaign's code first, as the SDK wants).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from lxml import etree

from ferry import errors, system_views
from ferry.auth import AuthError, Operator
from ferry.errors import FerryError
from ferry.query import (
    QueryDef,
    QueryNotFound,
    analyzed,
    parse_query_def,
    query_from_params,
    rows_to_json,
    rows_to_xml,
)
from ferry.query import run as query_run
from ferry.query.compiler import CompiledQuery
from ferry.query.run import MAX_ROWS, no_table, queryable
from ferry.schema import not_served
from ferry.schema.model import Schema
from ferry.server.api.soap import SoapContext, SoapRouter
from ferry.soap import writer
from ferry.soap.writer import Output

QUERY_URNS = frozenset({"xtk:queryDef", "xtk:persist|xtk:queryDef"})
REST_DEFAULT_LIMIT = 100


class CampaignFault(AuthError):
    """A refusal whose SOAP faultstring starts with a Campaign `XSV-…` code (the router sends those as is)."""


def not_found_fault(exc: QueryNotFound) -> CampaignFault:
    """`get` with no row: the SOAP fault starts with `XSV-350123` (REST: 404)."""
    return CampaignFault(exc.code, exc.message, campaign_code=exc.campaign_code, http_status=404)


def require_read(runtime: Any, operator: Operator, schema: Schema) -> None:
    """Admin, or the read right on the schema (a write right includes it), reads it (`ferry.auth.rights`)."""
    if not runtime.auth.can_read(operator, schema.id):
        raise AuthError(errors.QUERY_FORBIDDEN, f"operator {operator.login!r} has no right to read {schema.id}",
                        http_status=403)


async def resolve_schema(runtime: Any, schema_id: str) -> Schema:
    """The schema a query names; FRY-700008 when it has no warehouse table (unknown, or a service schema)."""
    schema = queryable(runtime.registry, schema_id)
    if schema is None and await runtime.refresh_schemas():
        schema = queryable(runtime.registry, schema_id)
    if schema is None and not_served.is_campaign_schema(schema_id):
        raise not_served.schema_fault(schema_id, "query")
    if schema is None:
        raise no_table(schema_id)
    return schema


def run_query(runtime: Any, query: QueryDef, schema: Schema, max_rows: int) -> tuple[CompiledQuery, list[Any]]:
    """Compile and run on the runtime's warehouse (`ferry.query.run`; blocking: call it in a worker thread)."""
    return query_run.run_query(runtime.warehouse, query, schema, max_rows)


# -- SOAP ---------------------------------------------------------------------------------------------------------


async def execute_query(ctx: SoapContext) -> list[Output]:
    """`xtk:queryDef#ExecuteQuery`: the `document` (this) is the queryDef; the output is `pdomOutput`."""
    assert ctx.operator is not None
    document = ctx.soap.document(("document", "queryDef", "entity"), 1)
    if document is None:
        raise FerryError(errors.SOAP_MISSING_PARAMETER, "ExecuteQuery needs the <queryDef> as its document "
                         "parameter")
    query = parse_query_def(document)
    view = system_views.view(query.schema_id)
    if view is not None:  # xtk:option, xtk:operator, xtk:enumValue: read on staging
        from ferry.server.api.compat import execute_view_query  # here: compat imports this module

        return await execute_view_query(ctx, query, view)
    schema = await resolve_schema(ctx.runtime, query.schema_id)
    require_read(ctx.runtime, ctx.operator, schema)
    compiled, rows = await ctx.runtime.reads.run(run_query, ctx.runtime, query, schema, MAX_ROWS)
    try:
        result = rows_to_xml(query, query.schema_short_name, compiled.columns, rows,
                             analyzed(query, schema, [column.name for column in compiled.columns]))
    except QueryNotFound as exc:
        raise not_found_fault(exc) from None
    return [writer.element("pdomOutput", etree.tostring(result, encoding="unicode"))]


def register_soap(router: SoapRouter) -> None:
    """Serve ExecuteQuery."""
    router.add(QUERY_URNS, "ExecuteQuery", execute_query)


# -- REST ---------------------------------------------------------------------------------------------------------


def build_router(runtime: Any, current_operator: Any) -> APIRouter:
    """`GET /api/v1/data/{ns}/{name}`: the JSON mirror of ExecuteQuery."""
    from ferry.server.api.rest_support import API_PREFIX, FerryRoute

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
