"""Bulk files (XML, JSON, NDJSON, CSV) read as a stream of raw records, in constant memory where the format allows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.documents import RawRecord, record_from_line, record_from_mapping, xml_record


class FileFormat(StrEnum):
    """The bulk formats `ferry ingest` reads."""

    XML = "xml"
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"


_SUFFIXES = {".xml": FileFormat.XML, ".json": FileFormat.JSON, ".ndjson": FileFormat.NDJSON,
             ".jsonl": FileFormat.NDJSON, ".csv": FileFormat.CSV}


def detect_format(path: Path) -> FileFormat:
    """The format named by the file's extension."""
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{path}: cannot tell the format from {path.suffix!r} "
                         f"(known: {known}); pass --format")
    return found


class RecordError(Exception):
    """A record that could not be read; the reader goes on with the next one."""

    def __init__(self, error: FerryError) -> None:
        super().__init__(error.text)
        self.error = error


def iter_records(stream: IO[bytes], fmt: FileFormat, schema_id: str) -> Iterator[RawRecord | RecordError]:
    """Yield each record of the file, or a RecordError for one that cannot be read."""
    if fmt is FileFormat.NDJSON:
        yield from _ndjson(stream, schema_id)
    elif fmt is FileFormat.CSV:
        yield from _csv(stream, schema_id)
    elif fmt is FileFormat.XML:
        yield from _xml(stream, schema_id)
    else:
        yield from _json(stream, schema_id)


def _ndjson(stream: IO[bytes], schema_id: str) -> Iterator[RawRecord | RecordError]:
    position = 0
    for line in stream:
        if not line.strip():
            continue
        position += 1
        try:
            yield record_from_line(line, position, schema_id)
        except FerryError as exc:
            yield RecordError(exc.at(position))


def _csv(stream: IO[bytes], schema_id: str) -> Iterator[RawRecord | RecordError]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_rows(csv.DictReader(text), schema_id)
    finally:
        # Leave the caller's stream open (it reports progress from it).
        text.detach()


def _csv_rows(reader: csv.DictReader[str], schema_id: str) -> Iterator[RawRecord | RecordError]:
    for position, row in enumerate(reader, start=1):
        if None in row:
            yield RecordError(FerryError(errors.MALFORMED_DOCUMENT, "the row has more fields than the header",
                                         position=position))
            continue
        # CSV has no NULL: an empty cell means "absent" so partial updates stay partial.
        fields = {name: value for name, value in row.items() if value != ""}
        try:
            yield record_from_mapping(fields, position, schema_id)
        except FerryError as exc:
            yield RecordError(exc.at(position))


def _xml(stream: IO[bytes], schema_id: str) -> Iterator[RawRecord | RecordError]:
    context = etree.iterparse(stream, events=("start", "end"), resolve_entities=False, no_network=True,
                              load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    depth = 0
    root: etree._Element | None = None
    position = 0
    try:
        for event, element in context:
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                continue
            depth -= 1
            if root is not None and etree.QName(root).localname.endswith("-collection") and depth == 1:
                position += 1
                try:
                    yield xml_record(element, position, root.get("xtkschema") or schema_id)
                except FerryError as exc:
                    yield RecordError(exc.at(position))
                element.clear()
                while element.getprevious() is not None:
                    del root[0]
            elif depth == 0 and position == 0:
                yield xml_record(element, 1, schema_id)
    except etree.XMLSyntaxError as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"not well-formed XML ({exc.msg})") from None


def _json(stream: IO[bytes], schema_id: str) -> Iterator[RawRecord | RecordError]:
    try:
        data = json.load(stream)
    except (ValueError, RecursionError) as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"not valid JSON ({exc}); for large files use NDJSON") from None
    items = data if isinstance(data, list) else [data]
    for position, item in enumerate(items, start=1):
        try:
            yield record_from_mapping(item, position, schema_id)
        except FerryError as exc:
            yield RecordError(exc.at(position))
