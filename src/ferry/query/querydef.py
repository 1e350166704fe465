"""`<queryDef>` documents (as the Adobe SDK sends them) and REST parameters → a typed QueryDef."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.query.ast import Binary, Expr
from ferry.query.parser import parse_expression
from ferry.query.tokens import LINK_PATHS, shown

MAX_NODES = 200
MAX_CONDITIONS = 200
MAX_CONDITION_DEPTH = 16
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCHEMA_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*\Z")
# Children of <queryDef> that ferry reads; any other element is refused rather than silently ignored.
_KNOWN_CHILDREN = frozenset({"select", "where", "orderBy", "groupBy", "having"})


class Operation(StrEnum):
    """The queryDef operations ferry serves."""

    SELECT = "select"
    GET = "get"
    GET_IF_EXISTS = "getIfExists"
    COUNT = "count"


@dataclass(frozen=True)
class SelectNode:
    """A `<select>/<node>`: an expression and its optional alias (`@x` or `x`, both meaning output name x)."""

    expr: Expr
    source: str
    alias: str | None = None
    # `analyze="true"`: an enumerated attribute also comes back as its value's name and label (`xName`, `xLabel`).
    analyze: bool = False


@dataclass(frozen=True)
class OrderNode:
    """An `<orderBy>/<node>`."""

    expr: Expr
    source: str
    desc: bool = False


@dataclass(frozen=True)
class QueryDef:
    """A parsed query. An empty `select` means every attribute of the schema, in schema order."""

    schema_id: str
    operation: Operation = Operation.SELECT
    select: tuple[SelectNode, ...] = ()
    where: Expr | None = None
    order_by: tuple[OrderNode, ...] = ()
    line_count: int | None = None
    start_line: int = 0
    distinct: bool = False
    group_by: tuple[SelectNode, ...] = ()
    having: Expr | None = None

    @property
    def schema_short_name(self) -> str:
        """The part of the schema id after ':' (`nms:recipient` → `recipient`): the result's element name."""
        return self.schema_id.split(":", 1)[1]


def _bad(message: str) -> FerryError:
    return FerryError(errors.BAD_QUERY, message)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _expression(source: str | None, where: str) -> Expr:
    if source is None or not source.strip():
        raise _bad(f"{where} has no expr attribute")
    try:
        return parse_expression(source)
    except FerryError as exc:
        raise FerryError(exc.code, f"{where}: {exc.message}") from None


def _schema_id(value: str | None) -> str:
    if not value:
        raise _bad("the queryDef has no schema attribute naming the schema to query")
    value = value.strip()
    if not _SCHEMA_ID.match(value):
        raise _bad(f"schema {shown(value)} must look like namespace:name")
    return value


def _operation(value: str | None) -> Operation:
    if value is None or value == "":
        return Operation.SELECT
    for operation in Operation:
        if operation.value.lower() == value.strip().lower():
            return operation
    raise _bad(f"operation {shown(value)} is not supported; use select, get, getIfExists or count")


def _count(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise _bad(f"{name} {shown(value)} must be a non-negative integer")
    return int(text)


def _flag(value: str | None, where: str) -> bool:
    """A boolean attribute: true / false / 1 / 0 (or absent); anything else is refused, never read as false."""
    if value is None or value.strip() == "":
        return False
    text = value.strip().lower()
    if text not in ("true", "1", "false", "0"):
        raise _bad(f"{where} {shown(value)} must be true or false")
    return text in ("true", "1")


def alias_name(alias: str | None, where: str) -> str | None:
    """Validate an alias; `@x` and `x` both name output attribute x."""
    if alias is None or alias.strip() == "":
        return None
    name = alias.strip().removeprefix("@")
    if not _NAME.match(name):
        raise _bad(f"{where}: alias {shown(alias)} must be a name such as @total or total")
    return name


# Element paths some schemas answer as one of their attributes (`register_paths`).
_LINK_PATHS: dict[str, dict[str, str]] = {}


def register_paths(schema_id: str, paths: dict[str, str]) -> None:
    """Let queries on `schema_id` name `[link/@attr]` paths, each read as the attribute it maps to."""
    _LINK_PATHS[schema_id] = dict(paths)


def parse_query_def(element: etree._Element) -> QueryDef:
    """Read a `<queryDef>` element (SimpleJson → XML as the SDK sends it, or hand-written XML)."""
    if _local(element) != "queryDef":
        raise _bad(f"expected a <queryDef> element, got <{_local(element) or '?'}>")
    schema_id = _schema_id(element.get("schema"))
    token = LINK_PATHS.set(_LINK_PATHS.get(schema_id, {}))
    try:
        return _parse_query_def(element, schema_id)
    finally:
        LINK_PATHS.reset(token)


def _parse_query_def(element: etree._Element, schema_id: str) -> QueryDef:
    for child in _elements(element):
        if _local(child) not in _KNOWN_CHILDREN:
            raise _bad(f"<{_local(child)}> in a queryDef is not supported "
                       " (supported: select, where, orderBy, groupBy, having)")
    select: list[SelectNode] = []
    for part in _children(element, "select"):
        for index, node in enumerate(_nodes(part, "select")):
            where = f"select node {index + 1}"
            source = node.get("expr")
            select.append(SelectNode(_expression(source, where), str(source), alias_name(node.get("alias"), where),
                                     _flag(node.get("analyze"), f"{where}: analyze")))
    order: list[OrderNode] = []
    for part in _children(element, "orderBy"):
        for index, node in enumerate(_nodes(part, "orderBy")):
            source = node.get("expr")
            where = f"orderBy node {index + 1}"
            order.append(OrderNode(_expression(source, where), str(source),
                                   _flag(node.get("sortDesc"), f"{where} {shown(str(source))}: sortDesc")))
    group: list[SelectNode] = []
    for part in _children(element, "groupBy"):
        for index, node in enumerate(_nodes(part, "groupBy")):
            source = node.get("expr")
            group.append(SelectNode(_expression(source, f"groupBy node {index + 1}"), str(source)))
    counter = [0]
    where_expr = _where(element, "where", counter)
    having = _where(element, "having", counter)
    if max(len(select), len(order), len(group)) > MAX_NODES:
        raise FerryError(errors.EXPRESSION_TOO_COMPLEX, f"more than {MAX_NODES} select, orderBy or groupBy nodes")
    return QueryDef(
        schema_id=schema_id,
        operation=_operation(element.get("operation")),
        select=tuple(select),
        where=where_expr,
        order_by=tuple(order),
        line_count=_count(element.get("lineCount"), "lineCount"),
        start_line=_count(element.get("startLine"), "startLine") or 0,
        distinct=_flag(element.get("distinct"), "the queryDef's distinct"),
        group_by=tuple(group),
        having=having,
    )


def _where(element: etree._Element, name: str, counter: list[int]) -> Expr | None:
    conditions: list[etree._Element] = []
    for part in _children(element, name):
        conditions.extend(_conditions(part, name))
    return _combine(conditions, counter, 1) if conditions else None


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in _elements(element) if _local(child) == name]


def _nodes(part: etree._Element, where: str) -> list[etree._Element]:
    nodes = _elements(part)
    for node in nodes:
        if _local(node) != "node":
            raise _bad(f"<{_local(node)}> in <{where}> is not supported; use <node expr=\"…\"/>")
    return nodes


def _conditions(part: etree._Element, where: str = "where") -> list[etree._Element]:
    found = _elements(part)
    for node in found:
        if _local(node) != "condition":
            raise _bad(f"<{_local(node)}> in <{where}> is not supported; use <condition expr=\"…\"/>")
    return found


def _bool_operator(condition: etree._Element) -> str:
    value = (condition.get("boolOperator") or "AND").strip().upper()
    if value not in ("AND", "OR"):
        raise _bad(f"boolOperator {shown(condition.get('boolOperator') or '')} must be AND or OR")
    return value


def _combine(conditions: list[etree._Element], counter: list[int], depth: int) -> Expr:
    """Join sibling conditions: each one's boolOperator links it to the next one; AND binds tighter than OR."""
    if depth > MAX_CONDITION_DEPTH:
        raise FerryError(errors.EXPRESSION_TOO_COMPLEX, f"conditions nested deeper than {MAX_CONDITION_DEPTH}")
    terms: list[Expr] = []
    for condition in conditions:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise FerryError(errors.EXPRESSION_TOO_COMPLEX, f"more than {MAX_CONDITIONS} conditions")
        terms.append(_condition(condition, counter, depth))
    # Split into OR-separated runs of AND-joined terms.
    runs: list[list[Expr]] = [[terms[0]]]
    for condition, term in zip(conditions[:-1], terms[1:], strict=True):
        if _bool_operator(condition) == "OR":
            runs.append([term])
        else:
            runs[-1].append(term)
    _bool_operator(conditions[-1])  # validate even the last one, whose operator links to nothing
    return _balanced("OR", [_balanced("AND", run) for run in runs])


def _balanced(op: str, terms: list[Expr]) -> Expr:
    """Join terms with an associative operator as a balanced tree (shallow, whatever the number of terms)."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return Binary(op, _balanced(op, terms[:middle]), _balanced(op, terms[middle:]))


def _condition(condition: etree._Element, counter: list[int], depth: int) -> Expr:
    if condition.get("sql") is not None:
        raise _bad("conditions with a sql attribute are not accepted: write an expr")
    where = f"condition {counter[0]}"
    nested = _conditions(condition)
    source = condition.get("expr")
    has_expr = source is not None and source.strip() != ""
    if not nested:
        return _expression(source, where)
    group = _combine(nested, counter, depth + 1)
    # A condition with both an expr and sub-conditions requires both.
    return Binary("AND", _expression(source, where), group) if has_expr else group


def query_from_params(
    schema_id: str,
    fields: str | None = None,
    filter: str | None = None,
    order: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    operation: str = "select",
) -> QueryDef:
    """A QueryDef from REST query parameters: fields "email,firstName", filter (an xtk expression),
    order "-email,firstName" (- = descending), limit, offset."""
    select: list[SelectNode] = []
    for field_name in _split(fields):
        name = field_name.removeprefix("@")
        if not _NAME.match(name):
            raise _bad(f"field {shown(field_name)} must be an attribute name")
        select.append(SelectNode(_expression(f"@{name}", f"field {name}"), f"@{name}"))
    ordering: list[OrderNode] = []
    for item in _split(order):
        desc = item.startswith("-")
        name = item.lstrip("+-").removeprefix("@")
        if not _NAME.match(name):
            raise _bad(f"order {shown(item)} must be an attribute name, optionally prefixed by - or +")
        ordering.append(OrderNode(_expression(f"@{name}", f"order {name}"), f"@{name}", desc))
    for value, name in ((limit, "limit"), (offset, "offset")):
        if value is not None and value < 0:
            raise _bad(f"{name} must be a non-negative integer")
    return QueryDef(
        schema_id=_schema_id(schema_id),
        operation=_operation(operation),
        select=tuple(select),
        where=_expression(filter, "filter") if filter is not None and filter.strip() else None,
        order_by=tuple(ordering),
        line_count=limit,
        start_line=offset or 0,
    )


def _split(text: str | None) -> list[str]:
    if text is None:
        return []
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items) and text.strip():
        raise _bad(f"empty item in list {shown(text)}")
    return [item for item in items if item]
