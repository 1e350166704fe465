"""The one hardened XML parser every way in uses: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

import collections
import functools
import re
import threading

from lxml import etree

from ferry import errors
from ferry.errors import FerryError

MAX_DEPTH = 64
_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
_ENTITY = re.compile(rb"<!entity", re.IGNORECASE)
_local = threading.local()
# Encodings (as lxml's docinfo names them) in which the character `<` is the byte `<` and no other byte is.
_BYTE_FOR_BYTE = frozenset({"UTF-8", "utf-8", "US-ASCII", "ASCII"})


# `<a/>`: the fewest bytes an element takes.
_SHORTEST_ELEMENT = 4


def _parser() -> etree.XMLParser:
    # A parser is reusable but not shareable between threads: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                                 attribute_defaults=False, huge_tree=False, remove_comments=True, remove_pis=True)
        _local.parser = parser
    return parser


@functools.cache
def _deeper_than(max_depth: int) -> etree.XPath:
    """Does an element sit more than `max_depth` levels down? (evaluated in C, stops at the deepest level)"""
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


def parse_xml(data: bytes | str, *, origin: str = "document", max_depth: int = MAX_DEPTH,
              max_children: int | None = None) -> etree._Element:
    """Parse untrusted XML, refusing DTDs, entity declarations and documents nested deeper than `max_depth`.

    With `max_children`, a document in which one element holds more element children (a collection's records) is
    refused while it is parsed (FRY-100015), so a refused call costs the parse of about that many, not the body.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # A cheap early refusal for the common case; the check after decoding (below) is the one that holds.
    if _DOCTYPE.search(raw, 0, 4096) or _ENTITY.search(raw):
        raise _dtd_refused(origin)
    try:
        if max_children is None or _few_elements(raw, max_children):
            root = etree.fromstring(raw, _parser())
        else:
            root = _parse_bounded(raw, origin, max_children)
    except etree.XMLSyntaxError as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: not well-formed XML ({exc.msg})") from None
    if root is None:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: empty document")
    info = root.getroottree().docinfo
    _refuse_declared_dtd(info, origin)
    # In UTF-8 every element start is a `<` byte: a document with no more of them than `max_depth` cannot nest
    # deeper, and the XPath walk is skipped (a unitary call). Any other encoding is walked.
    if raw.count(b"<") > max_depth or info.encoding not in _BYTE_FOR_BYTE:
        _check_depth(root, origin, max_depth)
    return root


def _few_elements(raw: bytes, max_children: int) -> bool:
    """True when the body cannot hold more than `max_children` elements at all (counted in C on the bytes, which
    only an ASCII-compatible encoding allows: a UTF-16 body goes the bounded way)."""
    if raw[:1] not in (b"<", b" ", b"\n", b"\r", b"\t") and not raw.startswith(b"\xef\xbb\xbf"):
        return False
    if len(raw) <= _SHORTEST_ELEMENT * max_children:  # a unitary call: too short to hold that many, no count
        return True
    return raw.count(b"<") - raw.count(b"</") <= max_children


def _parse_bounded(raw: bytes, origin: str, max_children: int) -> etree._Element:
    """Parse in slices, after each checking the elements still open (the last child, down from the root): past
    `max_children` children the parse stops. A slice adds at most `max_children` elements, so no element ends up
    with more than twice the limit unseen (`build_call` then counts exactly)."""
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True, load_dtd=False,
                                 dtd_validation=False, attribute_defaults=False, huge_tree=False, remove_comments=True,
                                 remove_pis=True)
    step = _SHORTEST_ELEMENT * max_children
    root: etree._Element | None = None
    for offset in range(0, len(raw), step):
        parser.feed(raw[offset:offset + step])
        events = parser.read_events()
        if root is None:
            for _event, element in events:
                assert isinstance(element, etree._Element)
                root = element
                break
        collections.deque(events, maxlen=0)  # drained in C: only the root is needed
        node = root
        while node is not None:
            if len(node) > max_children:
                raise FerryError(errors.TOO_MANY_RECORDS, f"{origin}: more than {max_children} records (elements "
                                 f"under <{etree.QName(node).localname}>) in one call; the limit is {max_children}")
            node = node[-1] if len(node) else None
    found: etree._Element = parser.close()
    return found


def refuse_dtd(element: etree._Element, origin: str) -> None:
    """Refuse a document that declared a DTD, whatever its encoding hid from a byte search (UTF-16, UTF-32, EBCDIC):
    its entities and attribute defaults would change the values a record carries."""
    _refuse_declared_dtd(element.getroottree().docinfo, origin)


def _refuse_declared_dtd(info: etree.DocInfo, origin: str) -> None:
    if info.internalDTD is not None or info.externalDTD is not None or info.doctype:
        raise _dtd_refused(origin)


def _dtd_refused(origin: str) -> FerryError:
    return FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: DTDs and entity declarations are not accepted")


def _check_depth(root: etree._Element, origin: str, max_depth: int) -> None:
    if _deeper_than(max_depth)(root):
        raise FerryError(errors.DOCUMENT_TOO_LARGE, f"{origin}: elements nested deeper than {max_depth} levels")
