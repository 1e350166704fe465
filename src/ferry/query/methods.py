"""The other methods of `xtk:queryDef`: SelectAll, BuildQuery / BuildQueryEx (the statement), Analyze.

- `select_all`: the queryDef with a `<select>` node for every attribute of the schema (Campaign's SelectAll, which
  the SDK then uses as the query itself); nodes already selected stay first.
- `statement_text`: the SQL ferry would run, its bound values written in as SQL literals for reading (the statement
  ferry runs keeps them bound). `format_string`: the select nodes' types, comma-separated (BuildQueryEx).
- `describe_query`: the queryDef with each select node's output name, type, label and enumeration (Analyze).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lxml import etree

from ferry.query.compiler import CompiledQuery, OutputColumn
from ferry.schema.model import Attribute, Schema


def select_all(query_def: etree._Element, attributes: Sequence[Attribute]) -> etree._Element:
    """A copy of `query_def` selecting every attribute in `attributes` (after the nodes it already selects)."""
    result = copy.deepcopy(query_def)
    select = next((child for child in result if isinstance(child.tag, str)
                   and etree.QName(child).localname == "select"), None)
    if select is None:
        select = etree.Element("select")
        result.insert(0, select)
    chosen = {node.get("expr") for node in select if isinstance(node.tag, str)}
    for attribute in attributes:
        expr = f"@{attribute.name}"
        if expr not in chosen:
            etree.SubElement(select, "node", expr=expr, noComputeString="true")
    return result


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def statement_text(compiled: CompiledQuery, placeholder: str) -> str:
    """The compiled SQL with each `placeholder` replaced by its value as a literal, for a person to read."""
    parts = compiled.sql.split(placeholder)
    if len(parts) != len(compiled.params) + 1:  # a placeholder character inside a literal: show them apart
        return f"{compiled.sql} -- values: {', '.join(_literal(value) for value in compiled.params)}"
    out = [parts[0]]
    for value, rest in zip(compiled.params, parts[1:], strict=True):
        out += [_literal(value), rest]
    return "".join(out)


def format_string(columns: Sequence[OutputColumn]) -> str:
    """The result columns' types, comma-separated (`string,long,datetime`); `string` when not known."""
    return ",".join(column.type.value if column.type is not None else "string" for column in columns)


def describe_query(query_def: etree._Element, schema: Schema, columns: Sequence[OutputColumn]) -> etree._Element:
    """A copy of `query_def` whose select holds one node per result column with its name, type, label, enum."""
    result = copy.deepcopy(query_def)
    for child in list(result):
        if isinstance(child.tag, str) and etree.QName(child).localname == "select":
            result.remove(child)
    select = etree.Element("select")
    result.insert(0, select)
    for column in columns:
        node = etree.SubElement(select, "node", alias=column.name,
                                type=column.type.value if column.type is not None else "string")
        attribute = schema.attribute(column.attribute) if column.attribute else None
        if attribute is not None:
            node.set("expr", f"@{attribute.name}")
            node.set("label", attribute.label or attribute.name)
            if attribute.enum:
                node.set("enum", f"{schema.id}:{attribute.enum}")
        if column.aggregate:
            node.set("aggregate", "true")
    return result
