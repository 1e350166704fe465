"""Bulk files (XML, JSON, NDJSON, CSV) read as a stream of raw records, in constant memory where the format allows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.documents import RawRecord, record_from_line, record_from_mapping, xml_record
from ferry.ingest.encodings import choose_encoding, undecoded_bytes
from ferry.xmlsafe import refuse_dtd


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


def iter_records(stream: IO[bytes], fmt: FileFormat, schema_id: str,
                 encoding: str | None = None) -> Iterator[RawRecord | RecordError]:
    """Yield each record of the file, or a RecordError for one that cannot be read.

    `encoding` applies to CSV (a byte-order mark overrides it); XML names its own, JSON and NDJSON are UTF-8.
    """
    if encoding is not None and fmt is not FileFormat.CSV:
        raise FerryError(errors.BAD_ENCODING, f"--encoding applies to CSV only: {fmt.value.upper()} is read as "
                         "UTF-8 (XML as its prolog declares); convert the file to UTF-8")
    if fmt is FileFormat.NDJSON:
        yield from _ndjson(stream, schema_id)
    elif fmt is FileFormat.CSV:
        yield from _csv(stream, schema_id, encoding)
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


def _csv(stream: IO[bytes], schema_id: str, requested: str | None) -> Iterator[RawRecord | RecordError]:
    encoding = choose_encoding(stream, requested)
    # surrogateescape: a byte the codec refuses refuses its own record (see _csv_rows), never the whole file.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    shown = "UTF-8" if encoding == "utf-8-sig" else encoding
    try:
        # strict: a stray or unclosed quote is an error naming its lines, never rows silently merged into one.
        yield from _csv_rows(csv.reader(text, strict=True), schema_id, shown)
    finally:
        # Leave the caller's stream open (it reports progress from it).
        text.detach()


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start >= end else f"lines {start}-{end}"


def _csv_error(position: int, start: int, message: str) -> RecordError:
    return RecordError(FerryError(errors.MALFORMED_DOCUMENT, f"Record {position} (line {start}): {message}",
                                  position=position))


def _csv_rows(reader: Any, schema_id: str, encoding: str) -> Iterator[RawRecord | RecordError]:
    """Every record after the header, each refused one named by its record number and line; blank lines skipped."""
    header: list[str] | None = None
    position = 0
    end = 0  # the last physical line read
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            position += 1
            yield _csv_error(position, start, f"malformed quoting ({exc}); {_lines(start, end)} not staged "
                             "(a quote opened and not closed?)")
            continue
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        undecoded = undecoded_bytes(row, encoding)
        if header is None:
            if undecoded is not None:
                raise FerryError(errors.BAD_ENCODING, f"the header (line {start}): {undecoded}")
            header = row
            continue
        position += 1
        if undecoded is not None:
            yield RecordError(FerryError(errors.BAD_ENCODING, f"Record {position} (line {start}): {undecoded}",
                                         position=position))
            continue
        if len(row) != len(header):
            more = "more" if len(row) > len(header) else "fewer"
            merged = (f"; {_lines(start, end)} were read as one record because a quote opened on line {start} "
                      "closes only there") if end > start else ""
            fields_word = "field" if len(row) == 1 else "fields"
            yield _csv_error(position, start, f"the row has {len(row)} {fields_word}, {more} than the header's "
                             f"{len(header)}{merged}")
            continue
        # CSV has no NULL: an empty cell means "absent" so partial updates stay partial.
        fields = {name: value for name, value in zip(header, row, strict=True) if value != ""}
        try:
            record = record_from_mapping(fields, position, schema_id)
        except FerryError as exc:
            yield _csv_error(position, start, exc.message)
            continue
        yield replace(record, line=start)


def _xml(stream: IO[bytes], schema_id: str) -> Iterator[RawRecord | RecordError]:
    context = etree.iterparse(stream, events=("start", "end"), resolve_entities=False, no_network=True,
                              load_dtd=False, attribute_defaults=False, huge_tree=False, remove_comments=True,
                              remove_pis=True)
    depth = 0
    root: etree._Element | None = None
    position = 0
    try:
        for event, element in context:
            if event == "start":
                depth += 1
                if root is None:
                    # The DTD, if any, is read before the root element starts: refused before any record.
                    refuse_dtd(element, "file")
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
