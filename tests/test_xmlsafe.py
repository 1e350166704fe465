"""The hardened XML parser: depth bound exactly at the limit, DTDs and entities refused anywhere, threads."""

from __future__ import annotations

import threading

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.xmlsafe import parse_xml


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
