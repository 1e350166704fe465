"""The fast path of plain inserts builds exactly the call `build_call` builds, or steps aside (None)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.errors import FerryError
from ferry.ingest import Call, Method, Op, build_call, inserts, records_from_json, records_from_xml
from ferry.ingest.operations import Inserts
from ferry.schema import SchemaRegistry, builtin_schemas, parse_schema
from ferry.xmlsafe import parse_xml

EVERY = """<srcSchema namespace="cus" name="every"><element name="every" autoStg="true">
<attribute name="s" type="string" length="8"/><attribute name="m" type="memo"/><attribute name="b" type="boolean"/>
<attribute name="sh" type="short"/><attribute name="big" type="int64"/><attribute name="d" type="double"/>
<attribute name="day" type="date"/><attribute name="ts" type="datetime"/><attribute name="req" type="long"
notNull="true"/>
</element></srcSchema>"""
REGISTRY = SchemaRegistry([*builtin_schemas(), parse_schema(EVERY)])

TEXT = st.text(alphabet=st.sampled_from(["a", "é", "\\", "\t", "\n", "\r", " ", "'", '"', "<", "&", "😀", "\x00"]),
               max_size=10)
RAW = st.one_of(TEXT, st.sampled_from(["", "1", "-32768", "32768", "9223372036854775807", "1.5", "true", "no",
                                       "2024-02-29", "2024-02-30", "2024-01-02T03:04:05Z", "1e400", "x"]))
NAMES = ("s", "m", "b", "sh", "big", "d", "day", "ts", "req", "id")


def xml_text(value: str) -> str:
    """An attribute value carrying `value` exactly (tabs and newlines as character references)."""
    return quoteattr(value, {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


def same(fast: Call, slow: Call) -> None:
    """The same call, but for the new UUIDs each path drew (and the ids made of them)."""
    assert (fast.schema_id, fast.method, fast.operator, fast.origin) == \
        (slow.schema_id, slow.method, slow.operator, slow.origin)
    assert isinstance(fast.operations, Inserts) and len(fast.operations) == len(slow.operations)
    for mine, theirs in zip(fast.operations, slow.operations, strict=True):
        assert (mine.op, mine.key, mine.position) == (theirs.op, theirs.key, theirs.position)
        assert list(mine.values) == list(theirs.values)
        for name, value in theirs.values.items():
            if name == "id" and value == str(theirs.uuid):
                assert mine.values["id"] == str(mine.uuid)
            else:
                assert mine.values[name] == value and type(mine.values[name]) is type(value)
        assert mine.uuid.version == 7
    assert fast.result == ",".join(str(op.values["id"]) for op in fast.operations)


def slow_or_error(build: Any) -> Call | FerryError:
    try:
        return build()  # type: ignore[no-any-return]
    except FerryError as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(NAMES), RAW, max_size=5), min_size=1, max_size=4))
def test_xml_collections_agree_with_build_call(records: list[dict[str, str]]) -> None:
    body = "".join("<every " + " ".join(f"{name}={xml_text(value)}" for name, value in record.items()) + "/>"
                   for record in records)
    xml_paths_agree(f'<every-collection xtkschema="cus:every">{body}</every-collection>')


def xml_paths_agree(text: str) -> None:
    """The fast path builds what `build_call` builds, and takes every call of plain inserts it takes."""
    try:
        root = parse_xml(text)
    except FerryError:
        return  # not XML (a NUL): never reaches either path
    slow = slow_or_error(lambda: build_call(REGISTRY, Method.INGEST, records_from_xml(root), operator="o",
                                            origin="soap"))
    fast = inserts.xml_call(REGISTRY, root, operator="o", origin="soap", max_records=None)
    if isinstance(slow, FerryError):
        assert fast is None
    else:
        assert fast is not None  # only plain inserts here
        same(fast, slow)


JSON = st.one_of(RAW, st.none(), st.integers(min_value=-2**63, max_value=2**63), st.floats(), st.booleans(),
                 st.just([1]), st.just({"a": 1}))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(NAMES), JSON, max_size=5), min_size=1, max_size=4))
def test_json_objects_agree_with_build_call(records: list[dict[str, Any]]) -> None:
    slow = slow_or_error(lambda: build_call(REGISTRY, Method.INGEST, records_from_json(records, "cus:every")))
    fast = inserts.mapping_call(REGISTRY, records, "cus:every", operator=None, origin="api", max_records=None)
    if isinstance(slow, FerryError):
        assert fast is None
    else:
        assert fast is not None  # only plain inserts here: the fast path takes every one the general path takes
        same(fast, slow)


def test_tricky_values_take_the_fast_path_unchanged() -> None:
    records = [{"s": "a\tb\\c", "m": "line\nline\r\n😀 é \\N", "sh": "-7", "big": 2**62, "d": "1.5", "b": "true",
                "day": "2024-02-29", "ts": "2024-01-02T03:04:05.5+02:00", "req": 1},
               {"s": "", "m": None, "sh": "", "req": "3", "id": "kept-id"},
               {"req": 0, "id": ""}]
    fast = inserts.mapping_call(REGISTRY, records, "cus:every", operator=None, origin="api", max_records=None)
    assert fast is not None
    same(fast, build_call(REGISTRY, Method.INGEST, records_from_json(records, "cus:every")))
    first, second, third = fast.operations
    assert first.values["day"] == dt.date(2024, 2, 29) and first.values["m"] == "line\nline\r\n😀 é \\N"
    assert first.values["ts"] == dt.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=dt.UTC)
    assert second.values == {"s": "", "m": "", "sh": None, "req": 3, "id": "kept-id"}
    assert third.values["id"] == str(third.uuid)
    assert fast.result == f"{first.values['id']},kept-id,{third.values['id']}"
    assert first.uuid < second.uuid < third.uuid


@pytest.mark.parametrize("record", [
    '<every _key="@s" s="a" req="1"/>', '<every _operation="update" s="a" req="1"/>',
    '<every xmlns:x="urn:x" x:s="a" req="1"/>', '<every req="1"><s>a</s></every>', '<every s="a" req=""/>',
    '<every req="1" nope="1"/>', '<every req="x"/>', '<every xtkschema="nms:recipient" req="1"/>',
    '<every s="much too long" req="1"/>',
])
def test_anything_else_takes_the_general_path(record: str) -> None:
    root = parse_xml(f'<every-collection xtkschema="cus:every">{record}</every-collection>')
    assert inserts.xml_call(REGISTRY, root, operator=None, origin="soap", max_records=None) is None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES), RAW, max_size=5), st.sampled_from(["every", "other"]))
def test_one_xml_record_agrees_with_build_call(record: dict[str, str], tag: str) -> None:
    attributes = " ".join(f"{name}={xml_text(value)}" for name, value in record.items())
    xml_paths_agree(f'<{tag} xtkschema="cus:every" {attributes}/>')


@pytest.mark.parametrize("record", [
    '<every xtkschema="cus:every" _key="@s" s="a" req="1"/>', '<every xtkschema="cus:every" req="1"><s>a</s></every>',
    '<every req="1"/>', '<every xtkschema="cus:nope" req="1"/>',
])
def test_one_record_that_is_not_plain_takes_the_general_path(record: str) -> None:
    assert inserts.xml_call(REGISTRY, parse_xml(record), operator=None, origin="soap", max_records=None) is None


@pytest.mark.parametrize("document", [
    '<every-collection xtkschema="cus:every"/>',
    '<every-collection><every req="1"/></every-collection>',
    '<every-collection xtkschema="cus:nope"><every req="1"/></every-collection>',
])
def test_other_documents_take_the_general_path(document: str) -> None:
    assert inserts.xml_call(REGISTRY, parse_xml(document), operator=None, origin="soap", max_records=None) is None


def test_the_record_limit_is_left_to_the_general_path() -> None:
    root = parse_xml('<every-collection xtkschema="cus:every"><every req="1"/><every req="2"/></every-collection>')
    assert inserts.xml_call(REGISTRY, root, operator=None, origin="soap", max_records=1) is None
    assert inserts.mapping_call(REGISTRY, [{"req": 1}] * 2, "cus:every", operator=None, origin="api",
                                max_records=1) is None


@pytest.mark.parametrize("objects", [[{"_key": "@s", "req": 1}], [{"_operation": "delete", "req": 1}],
                                     [{"xtkschema": "nms:recipient", "req": 1}], [[1]], [{"req": {"a": 1}}], []])
def test_json_anything_else_takes_the_general_path(objects: list[Any]) -> None:
    assert inserts.mapping_call(REGISTRY, objects, "cus:every", operator=None, origin="api", max_records=None) is None


def test_ndjson_lines_orjson_cannot_read_as_json_does_take_the_general_path() -> None:
    assert inserts.ndjson_objects([b'{"a": 1}', b"  ", b'{"b": "\\u00e9"}']) == [{"a": 1}, {"b": "é"}]
    assert inserts.ndjson_objects([b'{"a": 12345678901234567890}']) is None
    assert inserts.ndjson_objects([b'{"a": NaN}']) is None
    assert inserts.ndjson_objects([b'{"a": 1']) is None


def test_inserts_read_as_the_operations_they_hold() -> None:
    fast = inserts.mapping_call(REGISTRY, [{"req": 1}, {"req": 2, "id": "x"}], "cus:every", operator=None,
                                origin="api", max_records=None)
    assert fast is not None
    operations = fast.operations
    assert isinstance(operations, Inserts) and len(operations) == 2
    assert operations[-1] == operations[1] and operations[0:2] == tuple(operations)
    assert list(operations) == [operations[0], operations[1]]
    with pytest.raises(IndexError):
        operations[2]
    first = operations[0]
    assert (first.op, first.key, first.position) == (Op.INSERT, None, 1)
    assert first.values == {"req": 1, "id": str(first.uuid)}
    assert isinstance(first.uuid, uuid.UUID) and str(first.uuid) == operations.texts[0]
    assert first.uuid == uuid.UUID(bytes=operations.uuids[:16])
