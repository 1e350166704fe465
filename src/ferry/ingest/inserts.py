"""The common case of Ingest, fast: a collection of plain inserts read straight into columns (`Inserts`).

A record qualifies when it is what most Ingest calls carry: attributes of the call's one schema (no `_key`, no
`_operation` but insert, no child elements), each value accepted by its attribute. The document's elements or
objects go to converted values with no `RawRecord` or `Operation` per record in between. Anything else, errors
included, answers None: the caller then takes the general path (`build_call`), which accepts or refuses exactly as
before, with its own wording, position and code. So this path only ever accepts what `build_call` accepts, and
builds the same call (the same values in the same order, the same ids rule, time-ordered UUIDs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from lxml import etree

from ferry.errors import FerryError
from ferry.ingest import ids
from ferry.ingest.documents import _LONG_NUMBER, CONTROL_ATTRIBUTES
from ferry.ingest.operations import Call, Inserts, Method
from ferry.ingest.rules import _SLOW, _converters
from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import coerce

# `_operation` values that mean insert to Ingest.
_INSERT = (None, "", "insert")


class _NotPlain(Exception):
    """The document is not a plain insert collection (or holds an error): take the general path."""


def _schema(registry: SchemaRegistry, named: str | None) -> Schema:
    try:
        return registry.resolve_staged(named)
    except FerryError:
        raise _NotPlain from None


def _table(schema: Schema) -> dict[str, Any] | None:
    """The schema's converters (`rules._converters`); None when an attribute has a control name (`_key`, …), which
    the general path tells apart from the control."""
    table = _converters(schema)
    return None if not CONTROL_ATTRIBUTES.isdisjoint(table) else table


def _values(table: dict[str, Any], fields: Iterable[tuple[Any, Any]], named: str | None) -> dict[str, Any]:
    """`rules._convert` for a record that passes: the converted values, in the document's order. Control
    attributes pass only as a plain insert of the call's schema (`xtkschema` absent or `named`, `_operation`
    insert, no `_key`); a value that is an object or an array never does."""
    values: dict[str, Any] = {}
    for name, raw in fields:
        found = table.get(name)
        if found is None:
            if (name == "xtkschema" and (raw is None or raw == named)) or (name == "_operation" and raw in _INSERT):
                continue
            raise _NotPlain  # `_key`, an unknown or namespaced name
        attr, fast, check_null = found
        value = fast(raw)
        if value is _SLOW:
            if isinstance(raw, (dict, list)):
                raise _NotPlain
            try:
                value = coerce(attr.type, raw, attr.length)
            except FerryError:
                raise _NotPlain from None
        if check_null and (value is None or value == ""):
            raise _NotPlain
        values[name] = value
    return values


def _call(schema: Schema, rows: list[dict[str, Any]], operator: str | None, origin: str) -> Call:
    """The call of `rows` (converted values): a new time-ordered UUID each; an insert without id gets its text."""
    uuids = ids.uuid7_block(len(rows))
    texts = ids.block_texts(uuids)
    for values, row_text in zip(rows, texts, strict=True):
        if values.get(ID_ATTRIBUTE) in (None, ""):
            # The new record's internal key is the staged row's UUID, as `rules._operation` gives it.
            values[ID_ATTRIBUTE] = row_text
    return Call(schema_id=schema.id, method=Method.INGEST, operations=Inserts(uuids, texts, rows), operator=operator,
                origin=origin)


def xml_call(registry: SchemaRegistry, root: etree._Element, *, operator: str | None, origin: str,
             max_records: int | None) -> Call | None:
    """An Ingest `<name-collection>` of plain inserts, or one plain record element, → its call, or None (then
    `records_from_xml` + `build_call`)."""
    if not etree.QName(root).localname.endswith("-collection"):
        return _record_call(registry, root, operator, origin) if max_records is None or max_records >= 1 else None
    if len(root) == 0:
        return None
    if max_records is not None and len(root) > max_records:
        return None
    named = root.get("xtkschema")
    try:
        table = _table(_schema(registry, named))
        if table is None:
            return None
        rows: list[dict[str, Any]] = []
        append = rows.append
        element = etree._Element
        for node in root:
            if type(node) is not element or len(node):
                return None  # comments, processing instructions, value elements: the general path
            append(_values(table, node.items(), named))
    except _NotPlain:
        return None
    return _call(registry.resolve_staged(named), rows, operator, origin)


def _record_call(registry: SchemaRegistry, root: etree._Element, operator: str | None, origin: str) -> Call | None:
    """A unitary Ingest: the root is the record (`records_from_xml`), its schema its own `xtkschema`."""
    if len(root):
        return None  # value elements, comments: the general path
    named = root.get("xtkschema")
    try:
        table = _table(_schema(registry, named))
        if table is None:
            return None
        row = _values(table, root.items(), named)
    except _NotPlain:
        return None
    return _call(registry.resolve_staged(named), [row], operator, origin)


def mapping_call(registry: SchemaRegistry, objects: Sequence[Any], default_schema: str, *, operator: str | None,
                 origin: str, max_records: int | None) -> Call | None:
    """Ingest JSON objects (already decoded) of plain inserts → their call, or None (then the general path).

    A record names no schema, or `default_schema` (the URL's)."""
    if not objects or (max_records is not None and len(objects) > max_records):
        return None
    try:
        schema = _schema(registry, default_schema)
        table = _table(schema)
        if table is None:
            return None
        rows: list[dict[str, Any]] = []
        append = rows.append
        for obj in objects:
            if type(obj) is not dict:
                return None
            append(_values(table, obj.items(), default_schema))
    except _NotPlain:
        return None
    return _call(schema, rows, operator, origin)


def ndjson_objects(lines: Sequence[bytes]) -> list[Any] | None:
    """The objects of NDJSON lines (blank lines skipped), decoded as `documents.loads` would; None when a line
    needs more than orjson (integers past 64 bits) or is not JSON (the general path words the error)."""
    objects: list[Any] = []
    append = objects.append
    loads = orjson.loads
    search = _LONG_NUMBER.search
    try:
        for line in lines:
            if not line.strip():
                continue
            if search(line) is not None:
                return None
            append(loads(line))
    except orjson.JSONDecodeError:
        return None
    return objects
