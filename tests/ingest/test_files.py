"""CSV files: every refused row named with its record number and line, never a row lost silently."""

from __future__ import annotations

import io

import pytest

from ferry.errors import FerryError
from ferry.ingest.documents import RawRecord
from ferry.ingest.files import FileFormat, RecordError, iter_records


def read(text: str) -> list[RawRecord | RecordError]:
    return list(iter_records(io.BytesIO(text.encode()), FileFormat.CSV, "nms:recipient"))


def refusals(items: list[RawRecord | RecordError]) -> list[str]:
    return [item.error.message for item in items if isinstance(item, RecordError)]


def emails(items: list[RawRecord | RecordError]) -> list[str]:
    return [item.fields["email"] for item in items if isinstance(item, RawRecord)]


def test_an_unclosed_quote_names_the_lines_it_swallowed() -> None:
    items = read('email,firstName\na@x,"Ann\nb@x,Bob\nc@x,Cy\n')
    assert emails(items) == []
    [message] = refusals(items)
    assert message.startswith("Record 1 (line 2): malformed quoting")
    assert "lines 2-4 not staged" in message


def test_a_quote_closed_lines_later_refuses_the_merged_record_naming_its_lines() -> None:
    items = read('email,firstName,lastName\na@x,"Ann,Lee\nb@x,Bob",Brown,extra\nc@x,Cy,Day\n')
    assert emails(items) == ["c@x"]
    [message] = refusals(items)
    assert message.startswith("Record 1 (line 2): the row has 4 fields, more than the header's 3")
    assert "lines 2-3 were read as one record" in message


def test_more_fields_than_the_header_gives_the_line() -> None:
    items = read("email,firstName\na@x,Ann\nb@x,Bob,extra\nc@x,Cy\n")
    assert emails(items) == ["a@x", "c@x"]
    assert refusals(items) == ["Record 2 (line 3): the row has 3 fields, more than the header's 2"]


def test_every_refused_row_is_named_and_counted(tmp_path: object) -> None:
    text = 'email,firstName\n\na@x,Ann\nb@x\nc@x,"C"y\nd@x,Dee\n'
    items = read(text)
    assert emails(items) == ["a@x", "d@x"]
    messages = refusals(items)
    assert messages[0] == "Record 2 (line 4): the row has 1 field, fewer than the header's 2"
    assert messages[1].startswith("Record 3 (line 5): malformed quoting")
    assert len(items) == 4  # every non-blank row after the header: staged or refused, none lost


def test_a_legitimate_multi_line_value_is_kept_with_its_starting_line() -> None:
    items = read('email,firstName\na@x,"Ann\nMarie"\nb@x,Bob\n')
    records = [item for item in items if isinstance(item, RawRecord)]
    assert [(r.fields["firstName"], r.line) for r in records] == [("Ann\nMarie", 2), ("Bob", 4)]
    assert refusals(items) == []


def read_bytes(data: bytes, encoding: str | None = None) -> list[RawRecord | RecordError]:
    return list(iter_records(io.BytesIO(data), FileFormat.CSV, "nms:recipient", encoding))


def test_a_utf16_csv_with_its_byte_order_mark_is_read_without_being_told() -> None:
    items = read_bytes("email,firstName\na@x,Zoë\nb@x,Bob\n".encode("utf-16"))
    assert [item.fields["firstName"] for item in items if isinstance(item, RawRecord)] == ["Zoë", "Bob"]


def test_a_latin1_byte_refuses_its_record_with_a_code_and_the_good_rows_are_kept() -> None:
    items = read_bytes("email,firstName\na@x,Ann\nb@x,Zoë\nc@x,Cy\n".encode("latin-1"))
    assert emails(items) == ["a@x", "c@x"]
    [refused] = [item.error for item in items if isinstance(item, RecordError)]
    assert refused.code.code == "FRY-100030"
    assert refused.message.startswith("Record 2 (line 3): byte 0xeb is not UTF-8 text; pass --encoding")


def test_encoding_reads_a_latin1_csv() -> None:
    items = read_bytes("email,firstName\nb@x,Zoë\n".encode("latin-1"), "latin-1")
    assert [item.fields["firstName"] for item in items if isinstance(item, RawRecord)] == ["Zoë"]


def test_an_unknown_encoding_or_one_for_another_format_is_a_coded_refusal() -> None:
    with pytest.raises(FerryError) as unknown:
        read_bytes(b"email\na@x\n", "klingon")
    assert unknown.value.code.code == "FRY-100030"
    with pytest.raises(FerryError) as ndjson:
        list(iter_records(io.BytesIO(b'{"email": "a@x"}\n'), FileFormat.NDJSON, "nms:recipient", "latin-1"))
    assert "CSV only" in ndjson.value.message
