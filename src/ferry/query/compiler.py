"""Expression trees + a schema → parameterised SQL for DuckDB, PostgreSQL or Snowflake.

Identifiers come only from the schema (quoted); every client value is a bound parameter. The SQL keeps a few
constants of its own (`''`, `'\\'`, type names), never text from the client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from typing import Literal as TypingLiteral

from ferry import errors
from ferry.errors import FerryError
from ferry.query import ast
from ferry.query.ast import AttrRef, Binary, Call, Expr, InList, IsNull, Literal, Unary
from ferry.query.functions import lookup
from ferry.query.querydef import Operation, QueryDef, SelectNode
from ferry.query.tokens import shown
from ferry.schema import Schema
from ferry.schema.types import TEXT_TYPES, AttrType, coerce
from ferry.warehouse.snowflake_nulls import flag_name
from ferry.warehouse.tables import system_attributes

Dialect = TypingLiteral["duckdb", "postgres", "snowflake"]
# Compilation recurses over the tree (a few frames per level); keep well inside Python's recursion limit.
MAX_TREE_HEIGHT = 128
# Function arguments every engine takes: string positions are 32-bit integers; Round keeps at most 38 digits.
MAX_POSITION = 2_147_483_647
MAX_DIGITS = 38

_MARKER = re.compile("\x00([0-9]+)\x00")
_INTEGERS = frozenset({AttrType.BYTE, AttrType.SHORT, AttrType.LONG, AttrType.INT, AttrType.INT64})
_NUMBERS = _INTEGERS | {AttrType.DOUBLE, AttrType.FLOAT}
_TEMPORAL = frozenset({AttrType.DATE, AttrType.DATETIME, AttrType.DATETIMETZ, AttrType.DATETIMENOTZ, AttrType.TIME})
_TIMESTAMPS = frozenset({AttrType.DATETIME, AttrType.DATETIMETZ, AttrType.DATETIMENOTZ})
# Snowflake: bound values are written into the statement as literals by the connector (pyformat), so dates, times
# and doubles are cast to their type (a quoted text or a NUMBER literal otherwise).
_SNOWFLAKE_CASTS = {
    AttrType.DATE: "DATE", AttrType.TIME: "TIME", AttrType.DATETIME: "TIMESTAMP_TZ",
    AttrType.DATETIMETZ: "TIMESTAMP_TZ", AttrType.DATETIMENOTZ: "TIMESTAMP_NTZ", AttrType.DOUBLE: "DOUBLE",
    AttrType.FLOAT: "DOUBLE",
}


@dataclass(frozen=True)
class OutputColumn:
    """One column of the result: its output name, its type when known, the attribute it reads if plain."""

    name: str
    type: AttrType | None = None
    attribute: str | None = None
    aggregate: bool = False


@dataclass(frozen=True)
class CompiledQuery:
    """SQL with placeholders (`?` for DuckDB, `%s` for psycopg and the Snowflake connector), its parameters and
    the result columns. Snowflake's SQL also selects a NULL flag beside each timestamp column (see
    `ferry.warehouse.snowflake_nulls`), which `SnowflakeWarehouse.select` folds away."""

    sql: str
    params: list[Any]
    columns: list[OutputColumn]
    operation: Operation = Operation.SELECT
    schema_id: str = ""
    attributes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class _Sql:
    text: str
    type: AttrType | None
    aggregate: bool = False


def quote_identifier(name: str) -> str:
    """A double-quoted SQL identifier (every dialect)."""
    return '"' + name.replace('"', '""') + '"'


def output_names(query: QueryDef, schema: Schema) -> list[str]:
    """Output names of the select nodes: alias, else the attribute name, else expr0, expr1, … (unnamed only)."""
    names: list[str] = []
    unnamed = 0
    for node in _select_nodes(query, schema):
        if node.alias:
            names.append(node.alias)
        elif isinstance(node.expr, AttrRef):
            names.append(node.expr.name)
        else:
            names.append(f"expr{unnamed}")
            unnamed += 1
    return names


def _select_nodes(query: QueryDef, schema: Schema) -> tuple[SelectNode, ...]:
    if query.select:
        return query.select
    return tuple(SelectNode(AttrRef(name), f"@{name}") for name in schema.attribute_names)


def compile_query(query: QueryDef, schema: Schema, table: str, dialect: Dialect,
                  *, max_rows: int | None = None) -> CompiledQuery:
    """Compile `query` against `schema`'s table (`table`: an already-quoted SQL name from the warehouse adapter).

    `count` → `SELECT count(*)`; `get`/`getIfExists` → LIMIT 1 (the first row in orderBy order, as Campaign
    returns one record); `select` → LIMIT lineCount (capped by `max_rows`) OFFSET startLine.
    """
    if dialect not in ("duckdb", "postgres", "snowflake"):
        raise ValueError(f"unsupported dialect {dialect!r}")
    trees = [n.expr for n in query.select] + [n.expr for n in query.order_by] + [n.expr for n in query.group_by]
    trees += [tree for tree in (query.where, query.having) if tree is not None]
    if any(ast.depth(tree) > MAX_TREE_HEIGHT for tree in trees):
        raise FerryError(errors.EXPRESSION_TOO_COMPLEX,
                         f"the query nests more than {MAX_TREE_HEIGHT} levels of operators and conditions")
    return _Compiler(schema, dialect).compile(query, table, max_rows)


class _Compiler:
    def __init__(self, schema: Schema, dialect: Dialect) -> None:
        self.schema = schema
        # @created / @lastModified: columns of every warehouse table, readable like attributes.
        self.system = {attr.name: attr for attr in system_attributes(schema)}
        self.dialect = dialect
        self.values: list[Any] = []
        self.attributes: set[str] = set()
        self.placeholder = "?" if dialect == "duckdb" else "%s"
        self.text_type = "text" if dialect == "postgres" else "VARCHAR"
        self.double_type = "double precision" if dialect == "postgres" else "DOUBLE"

    # -- statement -------------------------------------------------------------------------------------------

    def compile(self, query: QueryDef, table: str, max_rows: int | None) -> CompiledQuery:
        where = self._where(query)
        if query.operation is Operation.COUNT:
            parts = ["SELECT count(*) AS", quote_identifier("count"), "FROM", table]
            if where:
                parts += ["WHERE", where]
            columns = [OutputColumn("count", AttrType.INT64, None, True)]
            return self._result(" ".join(parts), columns, query)

        nodes = _select_nodes(query, self.schema)
        names = output_names(query, self.schema)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise FerryError(errors.BAD_QUERY, f"two select nodes have the output name {shown(name)}; "
                                 "give one of them another alias")
            seen.add(name)
        compiled = [self._in_context(f"select node {i + 1} {shown(n.source)}", self._expr, n.expr)
                    for i, n in enumerate(nodes)]
        columns = [OutputColumn(name, part.type, node.expr.name if isinstance(node.expr, AttrRef) else None,
                                part.aggregate) for name, part, node in zip(names, compiled, nodes, strict=True)]
        where_part = ["WHERE", where] if where else []
        # Grouping keys that are not selected ride along as trailing hidden columns, so that GROUP BY and
        # ORDER BY can name them by position (the same expression with bound values is never written twice).
        hidden: list[_Sql] = []
        group = self._group_by(query, nodes, compiled, hidden)
        having = self._having(query)
        if hidden and query.distinct:
            raise FerryError(errors.BAD_QUERY, "distinct queries can only group by selected nodes")
        select_list = ", ".join(f"{part.text} AS {quote_identifier(f'c{i}')}" for i, part in enumerate(compiled))
        select_list += "".join(f", {part.text} AS {quote_identifier(f'h{i}')}" for i, part in enumerate(hidden))
        if self.dialect == "snowflake":
            select_list += "".join(f", ({part.text}) IS NULL AS {quote_identifier(flag_name(f'c{i}'))}"
                                   for i, part in enumerate(compiled) if part.type in _TIMESTAMPS)
        parts = ["SELECT DISTINCT" if query.distinct else "SELECT", select_list, "FROM", table, *where_part]
        if group:
            parts += ["GROUP BY", group]
        if having:
            parts += ["HAVING", having]
        grouped = bool(group or having) or any(part.aggregate for part in compiled)
        order = self._order_by(query, nodes, grouped)
        if order:
            parts += ["ORDER BY", order]
        limit: int | None
        offset = 0
        if query.operation in (Operation.GET, Operation.GET_IF_EXISTS):
            limit = 1
        else:
            limit = query.line_count
            if max_rows is not None:
                limit = max_rows if limit is None else min(limit, max_rows)
            offset = query.start_line
        if limit is not None:
            parts += ["LIMIT", self._bind(limit)]
        elif offset and self.dialect == "snowflake":
            parts += ["LIMIT", "NULL"]  # Snowflake takes OFFSET only after a LIMIT (NULL: no limit)
        if offset:
            parts += ["OFFSET", self._bind(offset)]
        return self._result(" ".join(parts), columns, query)

    def _result(self, sql: str, columns: list[OutputColumn], query: QueryDef) -> CompiledQuery:
        text, params = self._finish(sql)
        return CompiledQuery(text, params, columns, query.operation, query.schema_id, frozenset(self.attributes))

    def _in_context(self, context: str, compile_: Any, node: Expr) -> _Sql:
        try:
            result: _Sql = compile_(node)
        except FerryError as exc:
            raise FerryError(exc.code, f"{context}: {exc.message}") from None
        return result

    def _where(self, query: QueryDef) -> str:
        if query.where is None:
            return ""
        part = self._in_context("where", self._expr, query.where)
        if part.aggregate:
            raise FerryError(errors.BAD_QUERY, "where: aggregate functions (Count, Sum, …) cannot filter rows")
        self._require(part, {AttrType.BOOLEAN}, "a where condition")
        return part.text

    def _group_by(self, query: QueryDef, nodes: tuple[SelectNode, ...], compiled: list[_Sql],
                  hidden: list[_Sql]) -> str:
        """Explicit <groupBy> nodes, else the non-aggregate select nodes when any node aggregates."""
        if not query.group_by:
            if not any(part.aggregate for part in compiled):
                return ""
            return ", ".join(str(i + 1) for i, part in enumerate(compiled) if not part.aggregate)
        keys: list[str] = []
        for index, node in enumerate(query.group_by):
            # A selected expression is named by its position, so SELECT and GROUP BY stay the same expression.
            position = next((i for i, s in enumerate(nodes) if s.expr == node.expr), None)
            if position is not None:
                part = compiled[position]
            else:
                part = self._in_context(f"groupBy node {index + 1} {shown(node.source)}", self._expr, node.expr)
                hidden.append(part)
                position = len(nodes) + len(hidden) - 1
            if part.aggregate:
                raise FerryError(errors.BAD_QUERY, f"groupBy node {index + 1} {shown(node.source)}: cannot group "
                                 "by an aggregate")
            keys.append(str(position + 1))
        grouped = {node.expr for node in query.group_by}
        for index, (node, part) in enumerate(zip(nodes, compiled, strict=True)):
            if not part.aggregate and node.expr not in grouped:
                raise FerryError(errors.BAD_QUERY, f"select node {index + 1} {shown(node.source)} must be an "
                                 "aggregate or appear in groupBy")
        return ", ".join(keys)

    def _having(self, query: QueryDef) -> str:
        if query.having is None:
            return ""
        part = self._in_context("having", self._expr, query.having)
        self._require(part, {AttrType.BOOLEAN}, "a having condition")
        return part.text

    def _order_by(self, query: QueryDef, nodes: tuple[SelectNode, ...], grouped: bool) -> str:
        items: list[str] = []
        for index, node in enumerate(query.order_by):
            direction = "DESC NULLS FIRST" if node.desc else "ASC NULLS LAST"
            position = next((i for i, s in enumerate(nodes) if s.expr == node.expr), None)
            if position is None:
                hidden_keys = [g.expr for g in query.group_by if g.expr not in {s.expr for s in nodes}]
                if node.expr in hidden_keys:
                    position = len(nodes) + hidden_keys.index(node.expr)
            if position is not None:
                items.append(f"{position + 1} {direction}")
                continue
            if query.distinct:
                raise FerryError(errors.BAD_QUERY, f"orderBy node {index + 1} {shown(node.source)}: a distinct "
                                 "query can only be ordered by selected nodes")
            if not any(isinstance(sub, ast.AttrRef | ast.Call) for sub in ast.walk(node.expr)):
                # `ORDER BY 1` would mean "the first column" to the warehouse, and `ORDER BY 'x'` nothing.
                raise FerryError(errors.BAD_QUERY, f"orderBy node {index + 1} {shown(node.source)}: an expression "
                                 "without an attribute orders nothing; order by an attribute such as @email")
            part = self._in_context(f"orderBy node {index + 1} {shown(node.source)}", self._expr, node.expr)
            if grouped and not part.aggregate:
                raise FerryError(errors.BAD_QUERY, f"orderBy node {index + 1} {shown(node.source)}: a grouped "
                                 "query can only be ordered by selected nodes, groupBy nodes or aggregates")
            items.append(f"{part.text} {direction}")
        return ", ".join(items)

    # -- expressions -----------------------------------------------------------------------------------------

    def _bind(self, value: Any) -> str:
        # A marker, not the placeholder: operands may be compiled out of text order (a literal takes the type
        # of the other side), so parameters are put in text order once the statement is built.
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def _finish(self, sql: str) -> tuple[str, list[Any]]:
        params: list[Any] = []

        def place(match: re.Match[str]) -> str:
            params.append(self.values[int(match.group(1))])
            return self.placeholder

        return _MARKER.sub(place, sql), params

    def _expr(self, node: Expr) -> _Sql:
        if isinstance(node, Literal):
            return self._literal(node.value, None)
        if isinstance(node, AttrRef):
            return self._attribute(node)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, IsNull):
            return self._is_null(node)
        if isinstance(node, InList):
            return self._in_list(node)
        return self._call(node)

    def _attribute(self, node: AttrRef) -> _Sql:
        attr = self.schema.attribute(node.name) or self.system.get(node.name)
        if attr is None:
            raise FerryError(errors.QUERY_UNKNOWN_ATTRIBUTE,
                             f"attribute {shown('@' + node.name)} at column {node.column} is not in schema "
                             f"{self.schema.id}", attribute=node.name)
        self.attributes.add(attr.name)
        return _Sql(quote_identifier(attr.name), attr.type)

    def _literal(self, value: ast.LiteralValue, target: AttrType | None) -> _Sql:
        """Bind a client constant, converted to the type of what it is compared with when that is known."""
        if value is None:
            return _Sql("NULL", target)
        if target is not None:
            bound, type_ = _convert(value, target), target
        elif isinstance(value, bool):
            bound, type_ = value, AttrType.BOOLEAN
        elif isinstance(value, int):
            bound, type_ = value, AttrType.INT64
        elif isinstance(value, Decimal):
            bound, type_ = float(value), AttrType.DOUBLE
        else:
            bound, type_ = value, AttrType.STRING
        if type_ in TEXT_TYPES:
            # Typed so that PostgreSQL never meets an untyped parameter (e.g. inside concat()).
            return _Sql(f"CAST({self._bind(bound)} AS {self.text_type})", type_)
        if self.dialect == "snowflake" and type_ in _SNOWFLAKE_CASTS:
            return _Sql(f"CAST({self._bind(bound)} AS {_SNOWFLAKE_CASTS[type_]})", type_)
        return _Sql(self._bind(bound), type_)

    def _operand(self, node: Expr, other: _Sql | None) -> _Sql:
        if isinstance(node, Literal):
            return self._literal(node.value, other.type if other is not None else None)
        return self._expr(node)

    def _pair(self, left: Expr, right: Expr) -> tuple[_Sql, _Sql]:
        """Compile two operands; a literal takes the type of the other side."""
        if isinstance(left, Literal) and not isinstance(right, Literal):
            right_sql = self._expr(right)
            return self._literal(left.value, right_sql.type), right_sql
        left_sql = self._operand(left, None)
        return left_sql, self._operand(right, left_sql)

    def _as_text(self, part: _Sql) -> str:
        if part.type is None or part.type in TEXT_TYPES:
            return part.text
        return f"CAST({part.text} AS {self.text_type})"

    def _require(self, part: _Sql, allowed: set[AttrType] | frozenset[AttrType], what: str) -> None:
        if part.type is not None and part.type not in allowed:
            raise FerryError(errors.QUERY_TYPE_MISMATCH, f"{what} must be {_describe(allowed)}, "
                             f"not a {part.type.value} value")

    def _unary(self, node: Unary) -> _Sql:
        operand = self._expr(node.operand)
        if node.op == "NOT":
            self._require(operand, {AttrType.BOOLEAN}, "the operand of NOT")
            return _Sql(f"(NOT {operand.text})", AttrType.BOOLEAN, operand.aggregate)
        self._require(operand, _NUMBERS, "the operand of unary -")
        return _Sql(f"(- {operand.text})", operand.type, operand.aggregate)

    def _binary(self, node: Binary) -> _Sql:
        if node.op in ast.LOGICAL:
            left, right = self._expr(node.left), self._expr(node.right)
            self._require(left, {AttrType.BOOLEAN}, f"the operands of {node.op}")
            self._require(right, {AttrType.BOOLEAN}, f"the operands of {node.op}")
            return _Sql(f"({left.text} {node.op} {right.text})", AttrType.BOOLEAN, left.aggregate or right.aggregate)
        if node.op in ast.LIKES:
            left = self._expr(node.left) if not isinstance(node.left, Literal) else \
                self._literal(_text_value(node.left.value), AttrType.STRING)
            right = self._expr(node.right) if not isinstance(node.right, Literal) else \
                self._literal(_text_value(node.right.value), AttrType.STRING)
            # Snowflake reads a backslash in a string literal as an escape: its one-backslash literal is '\\'.
            escape = "'\\\\'" if self.dialect == "snowflake" else "'\\'"
            text = f"({self._as_text(left)} {node.op} {self._as_text(right)} ESCAPE {escape})"
            return _Sql(text, AttrType.BOOLEAN, left.aggregate or right.aggregate)
        left, right = self._pair(node.left, node.right)
        aggregate = left.aggregate or right.aggregate
        if node.op in ast.COMPARISONS:
            _comparable(left, right, node)
            op = "<>" if node.op == "!=" else node.op
            return _Sql(f"({left.text} {op} {right.text})", AttrType.BOOLEAN, aggregate)
        self._require(left, _NUMBERS | _TEMPORAL, f"the operands of {node.op!r}")
        self._require(right, _NUMBERS | _TEMPORAL, f"the operands of {node.op!r}")
        if node.op == "/":
            if isinstance(node.right, Literal) and node.right.value == 0 and not isinstance(node.right.value, bool):
                raise FerryError(errors.QUERY_DIVISION_BY_ZERO, f"division by zero at column {node.column}")
            divisor = right.text
            if self.dialect == "duckdb":
                # DuckDB divides a double by 0 into inf; PostgreSQL and Snowflake raise. Raise here too, with
                # ferry's code (the message is a bound value).
                message = self._bind(f"{errors.QUERY_DIVISION_BY_ZERO.code} division by zero at column "
                                     f"{node.column}: a divisor is 0 in some row")
                divisor = f"CASE WHEN {right.text} = 0 THEN error({message}) ELSE {right.text} END"
            # Real division in every engine (PostgreSQL would truncate integers).
            return _Sql(f"(CAST({left.text} AS {self.double_type}) / {divisor})", AttrType.DOUBLE, aggregate)
        both_int = left.type in _INTEGERS and right.type in _INTEGERS
        type_ = AttrType.INT64 if both_int else left.type if left.type in _TEMPORAL else \
            right.type if right.type in _TEMPORAL else AttrType.DOUBLE
        return _Sql(f"({left.text} {node.op} {right.text})", type_, aggregate)

    def _is_null(self, node: IsNull) -> _Sql:
        operand = self._expr(node.operand)
        if operand.type in TEXT_TYPES:
            # Campaign treats an empty string as NULL; ferry stores empty text as ''.
            text = (f"({operand.text} IS NOT NULL AND {operand.text} <> '')" if node.negated
                    else f"({operand.text} IS NULL OR {operand.text} = '')")
        else:
            text = f"({operand.text} IS {'NOT ' if node.negated else ''}NULL)"
        return _Sql(text, AttrType.BOOLEAN, operand.aggregate)

    def _in_list(self, node: InList) -> _Sql:
        operand = self._operand(node.operand, None)
        items = [self._operand(item, operand) for item in node.items]
        for item in items:
            _comparable(operand, item, node)
        keyword = "NOT IN" if node.negated else "IN"
        text = f"({operand.text} {keyword} ({', '.join(item.text for item in items)}))"
        return _Sql(text, AttrType.BOOLEAN, operand.aggregate or any(item.aggregate for item in items))

    def _call(self, node: Call) -> _Sql:
        function = lookup(node.name)
        assert function is not None  # the parser only builds whitelisted calls
        args = self._call_args(node)
        if function.aggregate and any(arg.aggregate for arg in args):
            raise FerryError(errors.BAD_QUERY, f"{node.name} at column {node.column} cannot contain another aggregate")
        inner = any(arg.aggregate for arg in args)
        name = node.name
        if name in ("Lower", "Upper", "Trim", "LTrim", "RTrim"):
            return _Sql(f"{name.lower()}({self._as_text(args[0])})", AttrType.STRING, inner)
        if name == "Length":
            return _Sql(f"length({self._as_text(args[0])})", AttrType.INT64, inner)
        if name == "Substring":
            for arg in args[1:]:
                self._require(arg, _INTEGERS, f"the positions of Substring at column {node.column}")
            for position in node.args[1:]:
                _in_range(position, 0, MAX_POSITION, f"a position of Substring at column {node.column}")
            # PostgreSQL's substr takes integers: a bigint position is cast (too big → an out-of-range value).
            rest = "".join(f", CAST({arg.text} AS integer)" if self.dialect == "postgres" else f", {arg.text}"
                           for arg in args[1:])
            return _Sql(f"substr({self._as_text(args[0])}{rest})", AttrType.STRING, inner)
        if name == "Concat":
            texts = [self._as_text(arg) for arg in args]
            if self.dialect == "snowflake":
                # Snowflake's concat() is NULL when an argument is; DuckDB's and PostgreSQL's skip NULLs.
                texts = [f"coalesce({text}, '')" for text in texts]
            return _Sql(f"concat({', '.join(texts)})", AttrType.STRING, inner)
        if name in ("Abs", "Floor", "Ceil"):
            self._require(args[0], _NUMBERS, f"the argument of {name} at column {node.column}")
            return _Sql(f"{name.lower()}({args[0].text})", args[0].type, inner)
        if name == "Round":
            return self._round(node, args, inner)
        if name == "Coalesce":
            type_ = next((arg.type for arg in args if arg.type is not None), None)
            return _Sql(f"coalesce({', '.join(arg.text for arg in args)})", type_, inner)
        if name in ("Year", "Month", "Day"):
            self._require(args[0], _TEMPORAL - {AttrType.TIME}, f"the argument of {name} at column {node.column}")
            return _Sql(f"CAST(EXTRACT({name.upper()} FROM {args[0].text}) AS BIGINT)", AttrType.INT64, inner)
        if name == "GetDate":
            return _Sql("CURRENT_TIMESTAMP", AttrType.DATETIME)
        return self._aggregate(node, args)

    def _call_args(self, node: Call) -> list[_Sql]:
        if node.name == "Coalesce":
            # Literals take the type of the first non-literal argument.
            compiled = {i: self._expr(arg) for i, arg in enumerate(node.args) if not isinstance(arg, Literal)}
            type_ = next((part.type for part in compiled.values() if part.type is not None), None)
            return [compiled[i] if i in compiled else self._literal(_literal_value(arg), type_)
                    for i, arg in enumerate(node.args)]
        if node.name == "Substring":
            rest = [self._literal(_literal_value(arg), AttrType.INT64) if isinstance(arg, Literal)
                    else self._expr(arg) for arg in node.args[1:]]
            return [self._expr(node.args[0]), *rest]
        return [self._expr(arg) for arg in node.args]

    def _round(self, node: Call, args: list[_Sql], inner: bool) -> _Sql:
        self._require(args[0], _NUMBERS, f"the argument of Round at column {node.column}")
        if len(args) == 1:
            return _Sql(f"round({args[0].text})", args[0].type, inner)
        self._require(args[1], _INTEGERS, f"the digits of Round at column {node.column}")
        _in_range(node.args[1], -MAX_DIGITS, MAX_DIGITS, f"the digits of Round at column {node.column}")
        if self.dialect == "snowflake":
            # The digits go uncast: Snowflake takes any integer (and fakesnow turns INTEGER into BIGINT, which
            # DuckDB's round() refuses).
            return _Sql(f"round(CAST({args[0].text} AS DOUBLE), {args[1].text})", AttrType.DOUBLE, inner)
        value = args[0].text if self.dialect == "duckdb" else f"CAST({args[0].text} AS numeric)"
        return _Sql(f"round({value}, CAST({args[1].text} AS INTEGER))", AttrType.DOUBLE, inner)

    def _aggregate(self, node: Call, args: list[_Sql]) -> _Sql:
        name = node.name
        if name == "Count":
            return _Sql(f"count({args[0].text if args else '*'})", AttrType.INT64, True)
        if name == "CountDistinct":
            return _Sql(f"count(DISTINCT {args[0].text})", AttrType.INT64, True)
        if name in ("Min", "Max"):
            return _Sql(f"{name.lower()}({args[0].text})", args[0].type, True)
        self._require(args[0], _NUMBERS, f"the argument of {name} at column {node.column}")
        if name == "Avg":
            return _Sql(f"avg(CAST({args[0].text} AS {self.double_type}))", AttrType.DOUBLE, True)
        if args[0].type in _INTEGERS:
            return _Sql(f"CAST(sum({args[0].text}) AS BIGINT)", AttrType.INT64, True)
        return _Sql(f"sum({args[0].text})", AttrType.DOUBLE, True)


def _in_range(node: Expr, low: int, high: int, what: str) -> None:
    """A constant function argument must fit what every engine takes (else FRY-700009, not an engine error)."""
    if isinstance(node, Literal) and isinstance(node.value, int) and not isinstance(node.value, bool) \
            and not low <= node.value <= high:
        raise FerryError(errors.QUERY_OUT_OF_RANGE, f"{what} is {node.value}, outside {low}..{high}")


def _describe(allowed: set[AttrType] | frozenset[AttrType]) -> str:
    if allowed == {AttrType.BOOLEAN}:
        return "a condition (true/false)"
    if allowed <= _NUMBERS:
        return "a number" if allowed == _NUMBERS else "an integer"
    if allowed <= _NUMBERS | _TEMPORAL:
        return "a number or a date"
    return "a date"


def _category(type_: AttrType | None) -> str | None:
    if type_ is None:
        return None
    if type_ in TEXT_TYPES:
        return "text"
    if type_ in _NUMBERS:
        return "number"
    if type_ is AttrType.BOOLEAN:
        return "boolean"
    if type_ is AttrType.TIME:
        return "time"
    return "date"


def _comparable(left: _Sql, right: _Sql, node: Binary | InList) -> None:
    a, b = _category(left.type), _category(right.type)
    if a is not None and b is not None and a != b:
        raise FerryError(errors.QUERY_TYPE_MISMATCH,
                         f"cannot compare a {left.type} value with a {right.type} value at column {node.column}")


def _text_value(value: ast.LiteralValue) -> ast.LiteralValue:
    if isinstance(value, bool) or value is None:
        return value
    return str(value)


def _literal_value(node: Expr) -> ast.LiteralValue:
    assert isinstance(node, Literal)
    return node.value


def _convert(value: str | int | Decimal | bool, target: AttrType) -> Any:
    """A client constant as a Python value of `target`'s type, or a FRY-700006 error."""
    if target in TEXT_TYPES:
        if isinstance(value, bool):
            raise _mismatch(value, target)
        return value if isinstance(value, str) else str(value)
    if target in _NUMBERS and isinstance(value, int | Decimal) and not isinstance(value, bool):
        if target in _INTEGERS and isinstance(value, int):
            return value
        return float(value)
    if target is not AttrType.BOOLEAN and isinstance(value, bool):
        raise _mismatch(value, target)
    if target in _TEMPORAL and not isinstance(value, str):
        raise _mismatch(value, target)
    try:
        return coerce(target, value)
    except FerryError:
        raise _mismatch(value, target) from None


def _mismatch(value: Any, target: AttrType) -> FerryError:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return FerryError(errors.QUERY_TYPE_MISMATCH, f"{shown(text)} is not a valid {target.value} value")
