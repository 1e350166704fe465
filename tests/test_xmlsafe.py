"""The hardened XML parser: depth bound exactly at the limit, DTDs and entities refused anywhere, threads."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from lxml import etree

from ferry import errors, xmlsafe
from ferry.errors import FerryError
from ferry.ingest.files import FileFormat, iter_records
from ferry.schema.loader import load_schema_file
from ferry.xmlsafe import _parse_bounded, parse_xml


def _nested(depth: int, *, text_between: bool = False) -> bytes:
    inner = "x" if not text_between else "<!-- c -->x<?pi ok?>"
    return ("<a>" * depth + inner + "</a>" * depth).encode()


@pytest.mark.parametrize("limit", [1, 2, 5, 64])
def test_depth_is_bounded_exactly_at_the_limit(limit: int) -> None:
    assert parse_xml(_nested(limit), max_depth=limit).tag == "a"
    with pytest.raises(FerryError) as caught:
        parse_xml(_nested(limit + 1), max_depth=limit, origin="SOAP request")
    assert caught.value.code == errors.DOCUMENT_TOO_LARGE
    assert caught.value.message == f"SOAP request: elements nested deeper than {limit} levels"


def test_a_document_too_short_to_nest_that_deep_is_not_walked_but_the_same_answer() -> None:
    # `<` counted on the bytes stands for the depth walk in UTF-8 only: here, 40 levels in 1 `<` byte (UTF-7)
    deep = "<a>" * 40 + "</a>" * 40
    utf7 = b'<?xml version="1.0" encoding="UTF-7"?>' + deep.encode("utf-7").replace(b"<", b"+ADw-")
    assert utf7.count(b"<") == 1
    latin = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + deep.encode("latin-1")
    for document in (utf7, latin, deep.encode("utf-16"), deep.encode()):
        with pytest.raises(FerryError) as caught:
            parse_xml(document, max_depth=32)
        assert caught.value.code == errors.DOCUMENT_TOO_LARGE
    shallow = "<a>" * 32 + "</a>" * 32
    for encoded in (shallow.encode(), shallow.encode("utf-16"), b'<?xml version="1.0" encoding="UTF-7"?>' +
                    shallow.encode("utf-7").replace(b"<", b"+ADw-")):
        assert parse_xml(encoded, max_depth=32).tag == "a"


def test_depth_counts_elements_only_and_any_branch() -> None:
    assert parse_xml(_nested(3, text_between=True), max_depth=3) is not None
    wide = b"<r>" + b"<b/>" * 500 + b"<b><c><d/></c></b></r>"
    assert parse_xml(wide, max_depth=4) is not None
    with pytest.raises(FerryError):
        parse_xml(wide, max_depth=3)


@pytest.mark.parametrize("document", [
    b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>',
    b'<!doctype r><r/>',
    b"<r>" + b" " * 10_000 + b'<!ENTITY e "x"></r>',
    b"<?xml version='1.0'?>\n<!DocType r SYSTEM 'http://example.invalid/r.dtd'><r/>",
])
def test_dtds_and_entity_declarations_are_refused(document: bytes) -> None:
    with pytest.raises(FerryError) as caught:
        parse_xml(document)
    assert caught.value.code == errors.MALFORMED_DOCUMENT


def test_malformed_and_empty_documents() -> None:
    with pytest.raises(FerryError) as caught:
        parse_xml(b"<r><unclosed></r>")
    assert caught.value.code == errors.MALFORMED_DOCUMENT and "not well-formed" in caught.value.message
    with pytest.raises(FerryError):
        parse_xml(b"")


def test_parsers_are_safe_across_threads() -> None:
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                root = parse_xml(f"<r n='{n}'><i v='{i}'/></r>".encode())
                assert root.get("n") == str(n) and root[0].get("v") == str(i)
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _utf16(text: str, codec: str = "utf-16") -> bytes:
    return text.encode(codec)


# Issue 27: a byte search for "<!DOCTYPE" misses it once the document is UTF-16 / UTF-32; the DTD then expanded an
# internal entity into a value and added a default xtkschema attribute to a record.
HIDDEN_DTDS = [
    _utf16('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "BOOM">]><r a="&e;">&e;</r>'),
    _utf16('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ATTLIST r xtkschema CDATA "dem:x">]><r/>'),
    _utf16('<?xml version="1.0" encoding="UTF-16BE"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', "utf-16-be"),
    _utf16('<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE r><r/>', "utf-32"),
]


@pytest.mark.parametrize("document", HIDDEN_DTDS, ids=["entity", "attlist", "utf16be", "utf32"])
def test_a_dtd_is_refused_after_decoding_whatever_the_encoding(document: bytes) -> None:
    with pytest.raises(FerryError) as caught:
        parse_xml(document, origin="SOAP request")
    assert caught.value.code == errors.MALFORMED_DOCUMENT
    assert caught.value.message == "SOAP request: DTDs and entity declarations are not accepted"


def test_a_utf16_document_without_a_dtd_is_read() -> None:
    root = parse_xml(_utf16('<?xml version="1.0" encoding="UTF-16"?><r a="é"/>'))
    assert root.get("a") == "é"


@pytest.mark.parametrize("document", HIDDEN_DTDS[:2], ids=["entity", "attlist"])
def test_bulk_files_and_schema_files_refuse_a_hidden_dtd(document: bytes, tmp_path: Path) -> None:
    with pytest.raises(FerryError) as caught:
        list(iter_records(io.BytesIO(document), FileFormat.XML, "nms:recipient"))
    assert caught.value.code == errors.MALFORMED_DOCUMENT and "DTD" in caught.value.message
    schema = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE srcSchema [<!ENTITY n "recipient">]>'
              '<srcSchema namespace="cus" name="&n;"><element name="&n;"><attribute name="a" type="string"/>'
              "</element></srcSchema>")
    path = tmp_path / "schema.xml"
    path.write_bytes(schema.encode("utf-16"))
    with pytest.raises(FerryError) as refused:
        load_schema_file(path)
    assert refused.value.code == errors.MALFORMED_SCHEMA and "DTD" in refused.value.message


def _collection(records: int) -> bytes:
    return b"<r-collection>" + b'<r a="1"/>' * records + b"</r-collection>"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_collection_past_the_limit_is_refused_while_parsing(encoding: str) -> None:
    # Issue 27, item 3: 1M records cost the whole parse before the 413; now the parse stops near the limit. The
    # body ends malformed: a parse that read it to the end would say so instead.
    body = _collection(20_000)[:-5] + b"<<<"
    if encoding != "utf-8":
        body = body.decode().encode(encoding)
    with pytest.raises(FerryError) as caught:
        parse_xml(body, origin="SOAP request", max_children=1000)
    assert caught.value.code == errors.TOO_MANY_RECORDS and "more than 1000 records" in caught.value.message
    with pytest.raises(FerryError) as unbounded:
        parse_xml(body, origin="SOAP request")
    assert unbounded.value.code == errors.MALFORMED_DOCUMENT
    assert len(parse_xml(_collection(1000), max_children=1000)) == 1000  # at the limit: read whole


def test_the_bounded_parse_reads_what_the_plain_one_reads() -> None:
    nested = b"<e><b>" + b"<r-collection>" + b"<r a='x'><c>1</c></r>" * 300 + b"</r-collection></b></e>"
    assert etree.tostring(_parse_bounded(nested, "doc", 1000)) == etree.tostring(parse_xml(nested))
    with pytest.raises(FerryError) as caught:
        parse_xml(b"<a>" + b"<b/>" * 500 + b"</a>", max_children=100)
    assert caught.value.code == errors.TOO_MANY_RECORDS


def test_a_body_too_short_for_the_limit_is_not_counted_and_one_past_it_is() -> None:
    assert xmlsafe._few_elements(b"<a/>" * 100, 100)  # 400 bytes: at most 100 elements, whatever they are
    assert not xmlsafe._few_elements(b"<a/>" * 101, 100)
    assert not xmlsafe._few_elements("<a/>".encode("utf-16"), 100)  # not ASCII-compatible: the bounded parse
