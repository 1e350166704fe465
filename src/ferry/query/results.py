"""Query rows → Campaign result shapes (XML for SOAP) and JSON-native dicts (REST)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.query.ast import AttrRef
from ferry.query.compiler import OutputColumn
from ferry.query.querydef import Operation, QueryDef
from ferry.schema.model import Enumeration, Schema
from ferry.schema.types import AttrType, to_text

# Campaign's code for "the record was not found" (see the protocol reference, §3.4 and §7).
NOT_FOUND_CAMPAIGN_CODE = "XSV-350123"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class QueryNotFound(FerryError):
    """A `get` query matched no record; `campaign_code` is what a SOAP fault should start with."""

    campaign_code = NOT_FOUND_CAMPAIGN_CODE

    def __init__(self, schema_id: str) -> None:
        super().__init__(errors.QUERY_NO_RECORD, f"The record was not found (no {schema_id} record matches the query)")

    @property
    def fault_string(self) -> str:
        """The SOAP faultstring: the Campaign code, then the message."""
        return f"{self.campaign_code} {self.message}"


def value_text(column: OutputColumn, value: Any) -> str:
    """A value as Campaign writes it in an XML attribute (booleans true/false, UTC datetimes ending in Z)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    return to_text(column.type or AttrType.STRING, value)


def analyzed(query: QueryDef, schema: Schema, names: Sequence[str]) -> dict[str, Enumeration]:
    """Output names of the `analyze="true"` nodes that read an enumerated attribute, with their enumeration."""
    found: dict[str, Enumeration] = {}
    for node, name in zip(query.select, names, strict=False):
        if node.analyze and isinstance(node.expr, AttrRef):
            attribute = schema.attribute(node.expr.name)
            enum = schema.enumeration(attribute.enum) if attribute is not None and attribute.enum else None
            if enum is not None:
                found[name] = enum
    return found


def rows_to_xml(query: QueryDef, schema_short_name: str, columns: Sequence[OutputColumn],
                rows: Sequence[Sequence[Any]], enums: dict[str, Enumeration] | None = None) -> etree._Element:
    """The RESULT element of ExecuteQuery's `pdomOutput` for `rows` (as fetched for the compiled query).

    select → `<x-collection><x …/>…</x-collection>`; get → `<x …/>` or QueryNotFound; getIfExists → `<x …/>`
    or an empty `<x/>`; count → `<x count="N"/>`. NULL and empty values are left out, as Campaign does.
    `enums` (from `analyzed`): those columns also give their value's name and label (`genderName`, `genderLabel`).
    """
    if query.operation is Operation.COUNT:
        count = rows[0][0] if rows else 0
        return etree.Element(schema_short_name, count=str(int(count or 0)))
    if query.operation is Operation.SELECT:
        collection = etree.Element(f"{schema_short_name}-collection")
        for row in rows:
            collection.append(_record(schema_short_name, columns, row, enums or {}))
        return collection
    if not rows:
        if query.operation is Operation.GET:
            raise QueryNotFound(query.schema_id)
        return etree.Element(schema_short_name)
    return _record(schema_short_name, columns, rows[0], enums or {})


def _record(tag: str, columns: Sequence[OutputColumn], row: Sequence[Any],
            enums: dict[str, Enumeration]) -> etree._Element:
    element = etree.Element(tag)
    # Rows may carry trailing hidden columns (grouping keys that are not selected): zip stops at the columns.
    for column, value in zip(columns, row, strict=False):
        if value is None:
            continue
        text = value_text(column, value)
        if text == "":
            continue
        element.set(column.name, _NOT_XML.sub("\ufffd", text))
        enum = enums.get(column.name)
        item = enum.by_value(text) if enum is not None else None
        if item is not None:
            element.set(f"{column.name}Name", item.name)
            element.set(f"{column.name}Label", item.label)
    return element


def json_value(value: Any) -> Any:
    """A JSON-native value: str/int/float/bool/None kept; dates and datetimes as text; decimals as numbers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return to_text(AttrType.DATETIME, value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def rows_to_json(query: QueryDef, columns: Sequence[OutputColumn],
                 rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as dicts keyed by output name (NULL → None). count → `[{"count": N}]`."""
    if query.operation is Operation.COUNT:
        return [{"count": int(rows[0][0] or 0) if rows else 0}]
    if query.operation is Operation.GET and not rows:
        raise QueryNotFound(query.schema_id)
    return [{column.name: json_value(value) for column, value in zip(columns, row, strict=False)} for row in rows]
