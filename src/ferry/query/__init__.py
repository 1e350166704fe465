"""Campaign queries (xtk:queryDef and the REST read API): parse, compile to bound SQL, shape results.

Flow: `parse_query_def(<queryDef>)` or `query_from_params(...)` → `compile_query(query, schema, table, dialect)`
→ run `sql` with `params` on the warehouse → `rows_to_xml(...)` (SOAP) or `rows_to_json(...)` (REST).
Choices: `get`/`getIfExists` read LIMIT 1 (the first row in orderBy order); an unnamed computed node is called
expr0, expr1, … (counting unnamed computed nodes only); no select node means every schema attribute; a
condition's boolOperator links it to the next sibling, AND binding tighter than OR; an empty string counts as
NULL (IS NULL matches it, and results leave it out) as in Campaign. <groupBy>/<having> are honoured;
without <groupBy>, aggregate nodes group by the other selected nodes.
"""

from ferry.query.ast import Expr
from ferry.query.compiler import CompiledQuery, Dialect, OutputColumn, compile_query, quote_identifier
from ferry.query.parser import parse_expression
from ferry.query.querydef import Operation, OrderNode, QueryDef, SelectNode, parse_query_def, query_from_params
from ferry.query.results import NOT_FOUND_CAMPAIGN_CODE, QueryNotFound, analyzed, rows_to_json, rows_to_xml

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
    "analyzed",
    "compile_query",
    "parse_expression",
    "parse_query_def",
    "query_from_params",
    "quote_identifier",
    "rows_to_json",
    "rows_to_xml",
]
