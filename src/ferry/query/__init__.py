"""Campaign queries (xtk:queryDef and the REST read API): parse, compile to bound SQL, shape results."""

from ferry.query.ast import Expr
from ferry.query.compiler import CompiledQuery, Dialect, OutputColumn, compile_query, quote_identifier
from ferry.query.parser import parse_expression
from ferry.query.querydef import Operation, OrderNode, QueryDef, SelectNode, parse_query_def, query_from_params
from ferry.query.results import NOT_FOUND_CAMPAIGN_CODE, QueryNotFound, rows_to_json, rows_to_xml

__all__ = [
    "NOT_FOUND_CAMPAIGN_CODE",
    "CompiledQuery",
    "Dialect",
    "Expr",
    "Operation",
    "OrderNode",
    "OutputColumn",
    "QueryDef",
    "QueryNotFound",
    "SelectNode",
    "compile_query",
    "parse_expression",
    "parse_query_def",
    "query_from_params",
    "quote_identifier",
    "rows_to_json",
    "rows_to_xml",
]
