"""Reading the warehouse: SOAP `xtk:queryDef#ExecuteQuery` and REST `GET /api/v1/data/{ns}/{name}`.

Both go through `ferry.query` (expressions parsed into a tree, compiled to SQL with bound values) and run on the
warehouse on its own bounded threads (`runtime.reads`). Every data schema has a warehouse table (staged ones,
`nms:service`, `nms:subHisto`, any applied schema); a query on anything else is refused with FRY-700008.
Read right: the admin right, or the ingest right on the schema (whoever may write a schema may read it back).
`get` with no row is the fault `XSV-350123 The record was not found …` (Campaign's code first, as the SDK wants).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import threading
from typing import Annotated, Any

import duckdb
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
from ferry.server.api.soap import SoapContext, SoapRouter
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
    """Admin, or the read right on the schema (a write right includes it), reads it (`ferry.auth.rights`)."""
    if not runtime.auth.can_read(operator, schema.id):
        raise AuthError(errors.QUERY_FORBIDDEN, f"operator {operator.login!r} has no right to read {schema.id}",
                        http_status=403)


def queryable(registry: Any, schema_id: str) -> Schema | None:
    """The schema whose warehouse table a query on `schema_id` reads, or None when it has none.

    Every data schema ferry knows has a table: staged ones (filled by the sync and Write), `nms:service` and
    `nms:subHisto` (filled by the subscription applier) and any other applied schema. `ns:nameStg` names its
    staged source, as for Ingest. Service schemas (`xtk:session`, …) are not in the registry: they have none.
    """
    schema: Schema | None = registry.get(schema_id)
    if schema is None and schema_id.endswith("Stg"):
        source: Schema | None = registry.get(schema_id[:-3])
        if source is not None and source.staged:
            schema = source
    return schema


async def resolve_schema(runtime: Any, schema_id: str) -> Schema:
    """The schema a query names; FRY-700008 when it has no warehouse table (unknown, or a service schema)."""
    schema = queryable(runtime.registry, schema_id)
    if schema is None and await runtime.refresh_schemas():
        schema = queryable(runtime.registry, schema_id)
    if schema is None:
        why = ("it is a service schema (methods only, no records)" if schema_id.startswith("xtk:")
               else "it is not a schema ferry knows (apply it first with `ferry schema apply`)")
        raise FerryError(errors.QUERY_NO_TABLE, f"schema {schema_id} has no warehouse table to query: {why}")
    return schema


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
    try:
        return compiled, warehouse.select(compiled.sql, compiled.params)
    except Exception as exc:
        refused = evaluation_error(exc)
        if refused is None:
            raise
        raise refused from None


# DuckDB's errors about a value (the others, e.g. an unreachable file, stay internal).
_DUCKDB_VALUE_ERRORS = (duckdb.OutOfRangeException, duckdb.InvalidInputException, duckdb.ConversionException)


def evaluation_error(exc: BaseException) -> FerryError | None:
    """A value the engine could not compute (x/0 in a row, an argument out of range) as a FRY-7 refusal; None for
    anything else (an outage or a bug stays an internal error)."""
    state = str(getattr(exc, "sqlstate", "") or "")
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    if errors.QUERY_DIVISION_BY_ZERO.code in first or state == "22012" or "division by zero" in first.lower():
        detail = first.split(errors.QUERY_DIVISION_BY_ZERO.code, 1)[-1].strip()
        return FerryError(errors.QUERY_DIVISION_BY_ZERO, detail if errors.QUERY_DIVISION_BY_ZERO.code in first
                          else f"division by zero: a divisor of the query is 0 in some row ({first})")
    if state.startswith("22") or isinstance(exc, _DUCKDB_VALUE_ERRORS):
        return FerryError(errors.QUERY_EVALUATION, f"the warehouse could not evaluate the query: {first}")
    return None


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
    from ferry.server.api.rest import API_PREFIX, FerryRoute

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
