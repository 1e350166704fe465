"""JSON and NDJSON bodies read with their record count bounded while they are decoded (issue 27): a call past the
limit is refused once its limit + 1st record is read, so a refused call costs about the limit's worth of objects,
never the whole body turned into them. (XML: `ferry.xmlsafe.parse_xml(max_children=…)`.)"""

from __future__ import annotations

import json
import re
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.documents import check_characters, parse_json_bytes

_SPACE = re.compile(r"[ \t\n\r]*")
_LINE = re.compile(rb"[^\r\n]+")


def too_many(max_records: int) -> FerryError:
    """The refusal of a call holding more than `max_records` records."""
    return FerryError(errors.TOO_MANY_RECORDS, f"more than {max_records} records in one call; the limit is "
                      f"{max_records}")


def json_document(body: bytes, max_records: int | None) -> Any:
    """`parse_json_bytes`, except that an array of more than `max_records` items is refused while it is decoded."""
    # Items of an array are separated by commas: fewer commas than the limit, fewer items (the common, fast case).
    if max_records is None or body.count(b",") < max_records:
        return parse_json_bytes(body)
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"not valid JSON ({exc})") from None
    start = _skip(text, 0)
    if not text.startswith("[", start):
        return parse_json_bytes(body)  # one object: one record
    try:
        items = _array(text, start + 1, max_records)
        check_characters(items, text)
        return items
    except (ValueError, RecursionError) as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"not valid JSON ({exc})") from None


def _array(text: str, index: int, max_records: int) -> list[Any]:
    decoder = json.JSONDecoder()
    items: list[Any] = []
    index = _skip(text, index)
    if text.startswith("]", index):
        index += 1
    else:
        while True:
            item, index = decoder.raw_decode(text, index)
            items.append(item)
            if len(items) > max_records:
                raise too_many(max_records)
            index = _skip(text, index)
            if text.startswith(",", index):
                index = _skip(text, index + 1)
                continue
            if text.startswith("]", index):
                index += 1
                break
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
    if _skip(text, index) != len(text):
        raise json.JSONDecodeError("Extra data", text, index)
    return items


def _skip(text: str, index: int) -> int:
    found = _SPACE.match(text, index)
    return found.end() if found else index


def ndjson_lines(body: bytes, max_records: int | None) -> list[bytes]:
    """The body's lines (as `bytes.splitlines`), refused without decoding any when more than `max_records` hold a
    record."""
    if max_records is not None and body.count(b"\n") + body.count(b"\r") >= max_records:
        records = 0
        for line in _LINE.finditer(body):
            if line.group().strip():
                records += 1
                if records > max_records:
                    raise too_many(max_records)
    return body.splitlines()
