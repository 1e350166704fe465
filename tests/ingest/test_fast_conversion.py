"""The per-schema converters behave exactly as `coerce` does; new ids are time-ordered UUIDs (version 7)."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import ids
from ferry.ingest.documents import loads
from ferry.ingest.rules import convert_values
from ferry.schema.model import Attribute, Schema
from ferry.schema.types import AttrType, coerce

ATTRIBUTES = tuple(
    Attribute(name=f"a_{attr_type.value}_{length}_{not_null}", type=attr_type, length=length, not_null=not_null)
    for attr_type in AttrType for length in (None, 3) for not_null in (False, True)
)
SCHEMA = Schema(namespace="cus", name="all", auto_stg=True, attributes=ATTRIBUTES)

values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=6), st.sampled_from(["", " 7 ", "1_000", "٣", "-128", "128", "32768", "abc\x00", "true",
                                          "2024-01-02", "12:00:00", "1e3", "0x10", "+5", "9223372036854775808"]),
)


def reference(attr: Attribute, raw: Any) -> tuple[str, Any]:
    """What convert_values did before the fast converters: coerce, then the notNull rule."""
    try:
        value = coerce(attr.type, raw, attr.length)
    except FerryError as exc:
        return "error", (exc.code, f"attribute {attr.name!r}: {exc.message}", attr.name)
    if attr.not_null and (value is None or value == "") and attr.type not in (AttrType.STRING, AttrType.MEMO):
        return "error", (errors.NOT_NULL, f"attribute {attr.name!r} cannot be empty", attr.name)
    return "ok", value


def actual(attr: Attribute, raw: Any) -> tuple[str, Any]:
    try:
        return "ok", convert_values(SCHEMA, {attr.name: raw})[attr.name]
    except FerryError as exc:
        return "error", (exc.code, exc.message, exc.attribute)


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(ATTRIBUTES), values)
def test_converters_answer_as_coerce(attr: Attribute, raw: Any) -> None:
    expected, got = reference(attr, raw), actual(attr, raw)
    assert got[0] == expected[0]
    assert type(got[1]) is type(expected[1]) and (got[1] == expected[1] or got[1] != got[1]), (attr, raw)


def test_a_schema_reapplied_gets_new_converters() -> None:
    narrow = Schema(namespace="cus", name="re", auto_stg=True, attributes=(Attribute("s", AttrType.STRING, 2),))
    wide = Schema(namespace="cus", name="re", auto_stg=True, attributes=(Attribute("s", AttrType.STRING, 9),))
    assert actual(narrow.attributes[0], "abc")[0] == "error"
    assert convert_values(wide, {"s": "abc"}) == {"s": "abc"}
    assert convert_values(narrow, {"s": "ab"}) == {"s": "ab"}


def test_new_ids_are_version_7_increasing_and_stamped_now() -> None:
    before = time.time_ns() // 1_000_000
    drawn = ids.uuid7s(1000) + [ids.uuid7() for _ in range(600)] + ids.uuid7s(5000)
    after = time.time_ns() // 1_000_000
    assert len(set(drawn)) == len(drawn)
    assert drawn == sorted(drawn) and [str(item) for item in drawn] == sorted(str(item) for item in drawn)
    for item in drawn[:50] + drawn[-50:]:
        assert isinstance(item, uuid.UUID) and item.version == 7 and item.variant == uuid.RFC_4122
        assert uuid.UUID(str(item)) == item and hash(uuid.UUID(str(item))) == hash(item)
    # 6,600 ids may borrow a few milliseconds ahead (4,096 per millisecond), never more than they need.
    assert before <= drawn[0].int >> 80 and drawn[-1].int >> 80 <= after + 2


def test_a_block_of_ids_holds_what_uuid7s_would_give_and_their_texts() -> None:
    before = time.time_ns() // 1_000_000
    first = ids.uuid7()
    block = ids.uuid7_block(9000)  # past 4,096: the block moves on to the next milliseconds
    last = ids.uuid7()
    after = time.time_ns() // 1_000_000
    drawn = [uuid.UUID(bytes=block[offset:offset + 16]) for offset in range(0, len(block), 16)]
    assert len(drawn) == 9000 and len(set(drawn)) == 9000
    assert [first, *drawn, last] == sorted([first, *drawn, last])
    assert all(item.version == 7 and item.variant == uuid.RFC_4122 for item in drawn)
    assert ids.block_texts(block) == [str(item) for item in drawn]
    assert before <= drawn[0].int >> 80 and drawn[-1].int >> 80 <= after + 3
    # The random bits differ from id to id (62 of them each).
    assert len({item.int & ((1 << 62) - 1) for item in drawn}) == 9000
    assert ids.uuid7_block(0) == b"" and ids.block_texts(b"") == []


def test_a_block_of_one_id_is_ordered_with_the_others() -> None:
    drawn = [ids.uuid7(), *(uuid.UUID(bytes=ids.uuid7_block(1)) for _ in range(5000)), ids.uuid7()]
    assert drawn == sorted(drawn) and len(set(drawn)) == len(drawn)
    assert all(item.version == 7 and item.variant == uuid.RFC_4122 for item in drawn)
    assert len({item.int & ((1 << 62) - 1) for item in drawn}) == len(drawn)


def test_a_forked_child_draws_other_uuids_than_its_parent() -> None:
    ids.uuid7()  # the parent's thread holds random bytes drawn ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.write(write, ids.uuid7().bytes)
        os._exit(0)
    os.waitpid(pid, 0)
    child = uuid.UUID(bytes=os.read(read, 16))
    os.close(read)
    os.close(write)
    parent = ids.uuid7()  # what the child would have drawn, had it kept the parent's bytes
    assert child.int & ((1 << 62) - 1) != parent.int & ((1 << 62) - 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def same(left: Any, right: Any) -> bool:
    """Equal values of equal types all the way down (1 is not 1.0, key order counts)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return repr(left) == repr(right)


@settings(max_examples=1500, deadline=None)
@given(json_values, st.booleans())
def test_loads_gives_what_json_gives(value: Any, as_bytes: bool) -> None:
    text = json.dumps(value, ensure_ascii=False)
    data: bytes | str = text.encode("utf-8") if as_bytes else text
    assert same(loads(data), json.loads(data))


@pytest.mark.parametrize("data", [
    b'{"a": 1, "b": 2, "a": 3}', b"18446744073709551616", b"-9223372036854775809", b"123456789012345678901234567890",
    b"1E400", b"NaN", b"[Infinity]", b"\xef\xbb\xbf{}", b"[" * 5000 + b"]" * 5000, b'"\\ud83d\\ude00"',
    b"{nope", b"", b"\x00", b'"a\x01"', b'{"a": 1}x', "\ufeff{}", b"1.0000000000000001", b"-0",
    '{"é": "ü"}'.encode("utf-16"),
])
def test_loads_answers_and_refuses_as_json_does(data: bytes | str) -> None:
    """As json does, except for lone surrogates (below)."""
    try:
        expected: Any = ("ok", json.loads(data))
    except (ValueError, RecursionError) as exc:
        expected = ("error", type(exc), str(exc))
    try:
        got: Any = ("ok", loads(data))
    except (ValueError, RecursionError) as exc:
        got = ("error", type(exc), str(exc))
    assert got[0] == expected[0]
    assert same(got[1], expected[1]) if got[0] == "ok" else got == expected


@pytest.mark.parametrize("data", [b'"\\ud800"', b'"\xed\xa0\x80"', '"\\udc00"', b'{"\\udfff": 1}',
                                  '["\\ud800"]'.encode("utf-16")])
def test_loads_refuses_a_lone_surrogate_which_json_would_read(data: bytes | str) -> None:
    # Issue 27: json reads one (orjson does not); no column can store it and no reply quote it back.
    with pytest.raises(ValueError, match="lone surrogate"):
        loads(data)
