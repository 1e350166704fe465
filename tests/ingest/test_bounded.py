"""Bodies past the record limit are refused while they are decoded, not after (issue 27, item 3)."""

from __future__ import annotations

import json

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.bounded import json_document, ndjson_lines
from ferry.ingest.documents import parse_json_bytes


def records(count: int) -> list[dict[str, str]]:
    return [{"email": f"u{n}@x.com", "firstName": "x"} for n in range(count)]


def test_an_array_past_the_limit_is_refused_before_its_end() -> None:
    # The tail is not JSON: decoding the whole body would say so; the bounded read stops before it.
    body = json.dumps(records(5000)).encode()[:-1] + b", {oops"
    with pytest.raises(FerryError) as caught:
        json_document(body, 1000)
    assert caught.value.code == errors.TOO_MANY_RECORDS and "the limit is 1000" in caught.value.message
    with pytest.raises(FerryError) as whole:
        parse_json_bytes(body)
    assert whole.value.code == errors.MALFORMED_DOCUMENT


@pytest.mark.parametrize("body", [
    json.dumps(records(1000)).encode(), json.dumps(records(3)).encode(), b' [ ] ', b'{"email": "a,b,c"}',
    json.dumps(records(1000), indent=1).encode("utf-16"), b'[1, "x,y", {"a": [1, 2, 3]}, null]' + b" " * 10,
])
def test_a_body_within_the_limit_reads_as_before(body: bytes) -> None:
    expected = parse_json_bytes(body)
    assert json_document(body, 1000) == expected
    if isinstance(expected, list) and len(expected) > 2:
        with pytest.raises(FerryError, match="the limit is 2"):
            json_document(body, 2)
    else:
        assert json_document(body, 2) == expected


@pytest.mark.parametrize("body", [b'[{"a": 1},, {"a": 2}]', b'[{"a": 1} {"a": 2}]', b'[{"a": 1}] x', b'[{"a": 1},'])
def test_malformed_arrays_are_refused_the_same_way(body: bytes) -> None:
    for limit in (1, 1000):  # the bounded read, and the plain one
        with pytest.raises(FerryError) as caught:
            json_document(body, limit)
        assert caught.value.code == errors.MALFORMED_DOCUMENT and "not valid JSON" in caught.value.message


def test_ndjson_past_the_limit_is_refused_without_decoding_a_line() -> None:
    body = b"".join(b'{"email": "u%d@x.com"}\n' % n for n in range(1001)) + b"not json\n"
    with pytest.raises(FerryError) as caught:
        ndjson_lines(body, 1000)
    assert caught.value.code == errors.TOO_MANY_RECORDS
    blank_padded = b"\n\r\n".join([b'{"a": 1}'] * 1000) + b"\n \n\n"
    assert ndjson_lines(blank_padded, 1000) == blank_padded.splitlines()
