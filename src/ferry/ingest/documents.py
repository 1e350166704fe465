"""Documents as they arrive (XML element, JSON object or array, NDJSON line, CSV row) → raw records."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.xmlsafe import parse_xml

CONTROL_ATTRIBUTES = frozenset({"xtkschema", "_key", "_operation"})


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record before validation: names and values as the client sent them."""

    position: int
    xtkschema: str | None
    fields: Mapping[str, Any]
    key: str | None
    operation: str | None
    line: int | None = None  # where a text file's record starts (CSV), for refusals a person can find


def records_from_xml(root: etree._Element) -> list[RawRecord]:
    """One record, or every child of a `<name-collection>` (or an SDK-style root holding records)."""
    root_schema = root.get("xtkschema")
    tag = etree.QName(root).localname
    children = [child for child in root if isinstance(child.tag, str)]
    if tag.endswith("-collection"):
        return [_located_xml(child, index + 1, root_schema) for index, child in enumerate(children)]
    return [_located_xml(root, 1, root_schema)]


def _located_xml(node: etree._Element, position: int, inherited_schema: str | None) -> RawRecord:
    try:
        return xml_record(node, position, inherited_schema)
    except FerryError as exc:
        raise exc.at(position) from None


def xml_record(node: etree._Element, position: int, inherited_schema: str | None) -> RawRecord:
    """One record element: its attributes, and simple child elements holding a value."""
    fields: dict[str, Any] = {}
    for raw_name, value in node.attrib.items():
        name = str(raw_name)
        if "}" in name:
            # `r:testcol1` would otherwise override `testcol1`: schema attributes are never in a namespace.
            shown = etree.QName(raw_name).localname
            raise FerryError(errors.UNKNOWN_ATTRIBUTE, f"attribute {shown!r} is in a namespace "
                             f"({etree.QName(raw_name).namespace}); schema attributes have none",
                             position=position, attribute=shown)
        if name not in CONTROL_ATTRIBUTES:
            fields[name] = value
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if len(child) or child.attrib:
            raise FerryError(errors.UNKNOWN_ATTRIBUTE, f"element <{name}> is not an attribute of the schema "
                             "(links and sub-elements are not supported)", position=position, attribute=name)
        if name in fields:
            raise FerryError(errors.MALFORMED_DOCUMENT, f"{name!r} is given twice", position=position, attribute=name)
        fields[name] = child.text or ""
    return RawRecord(
        position=position,
        xtkschema=node.get("xtkschema") or inherited_schema,
        fields=fields,
        key=node.get("_key"),
        operation=node.get("_operation"),
    )


def records_from_xml_bytes(data: bytes | str) -> list[RawRecord]:
    """Parse an XML document with the hardened parser, then read its records."""
    return records_from_xml(parse_xml(data))


def record_from_mapping(obj: Any, position: int, default_schema: str | None = None) -> RawRecord:
    """A JSON object (or CSV row) with the same attribute names, plus `xtkschema`, `_key`, `_operation`."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise FerryError(errors.MALFORMED_DOCUMENT, f"record {position} is a {type(obj).__name__}, not an object",
                         position=position)
    fields: dict[str, Any] = {}
    for name, value in obj.items():
        if type(name) is not str and not isinstance(name, str):
            raise FerryError(errors.MALFORMED_DOCUMENT, "attribute names must be strings", position=position)
        if name in CONTROL_ATTRIBUTES:
            continue
        if isinstance(value, (dict, list)):  # a tuple: faster than dict | list
            raise FerryError(errors.UNKNOWN_ATTRIBUTE, f"{name!r} holds an object or array; attributes take "
                             "scalar values", position=position, attribute=name)
        fields[name] = value
    schema = obj.get("xtkschema") or default_schema
    key = obj.get("_key")
    operation = obj.get("_operation")
    for control, value in (("xtkschema", schema), ("_key", key), ("_operation", operation)):
        if value is not None and not isinstance(value, str):
            raise FerryError(errors.MALFORMED_DOCUMENT, f"{control} must be a string", position=position)
    return RawRecord(position=position, xtkschema=schema, fields=fields, key=key, operation=operation)


def records_from_json(data: Any, default_schema: str | None = None) -> list[RawRecord]:
    """A JSON object (one record) or array (a collection)."""
    items = data if isinstance(data, list) else [data]
    records = []
    for index, item in enumerate(items):
        try:
            records.append(record_from_mapping(item, index + 1, default_schema))
        except FerryError as exc:
            raise exc.at(index + 1) from None
    return records


# Integers of 19 digits or more may pass 64 bits, which orjson turns into floats where json keeps exact ints.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{19}")


# Where a lone surrogate may hide: an escape `\ud800`-`\udfff`, its UTF-8 form (json reads it with surrogatepass),
# or a UTF-16 / UTF-32 body (NUL bytes).
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|\x00")
_SURROGATE_TEXT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def loads(data: bytes | str) -> Any:
    """`json.loads`, through orjson (several times faster) whenever orjson gives the very same value.

    orjson accepts a subset of what json accepts (no NaN, no lone surrogates, no BOM, bounded depth) and decodes it
    identically, except integers past 64 bits: those documents, and everything orjson refuses, go to `json.loads`,
    which gives the value or the error of before.
    """
    long_number = _LONG_NUMBER.search(data) if isinstance(data, bytes) else _LONG_NUMBER_TEXT.search(data)
    if long_number is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    value = json.loads(data)
    check_characters(value, data)
    return value


def check_characters(value: Any, source: bytes | str) -> None:
    """json (unlike orjson) reads a lone surrogate (`"\ud800"`), which is no character: no column can store it and
    no reply can quote it back. ValueError when `value`, decoded from `source`, holds one."""
    if not (_SURROGATE.search(source) if isinstance(source, bytes) else _SURROGATE_TEXT.search(source)):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"it holds a lone surrogate (U+{ord(exc.object[exc.start]):04X}), which is not a "
                         "character; send UTF-8 text") from None


def parse_json_bytes(data: bytes | str) -> Any:
    """Decode JSON text, refusing it with a FRY error when malformed."""
    try:
        return loads(data)
    except (ValueError, RecursionError) as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"not valid JSON ({exc})") from None


def record_from_line(line: bytes | str, position: int, default_schema: str | None = None) -> RawRecord:
    """One NDJSON line → a record; errors carry the record's position."""
    try:
        obj = loads(line)
    except (ValueError, RecursionError) as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"line is not valid JSON ({exc})").at(position) from None
    try:
        return record_from_mapping(obj, position, default_schema)
    except FerryError as exc:
        raise exc.at(position) from None


def iter_ndjson(lines: Iterable[bytes | str], default_schema: str | None = None) -> Iterator[RawRecord]:
    """One record per non-empty line; positions count records, not blank lines."""
    position = 0
    for line in lines:
        if line.strip():
            position += 1
            yield record_from_line(line, position, default_schema)
