"""The one hardened XML parser every way in uses: no DTD, no entities, no network, bounded size and depth."""

from __future__ import annotations

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


def _parser() -> etree.XMLParser:
    # A parser is reusable but not shareable between threads: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


@functools.cache
def _deeper_than(max_depth: int) -> etree.XPath:
    """Does an element sit more than `max_depth` levels down? (evaluated in C, stops at the deepest level)"""
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


def parse_xml(data: bytes | str, *, origin: str = "document", max_depth: int = MAX_DEPTH) -> etree._Element:
    """Parse untrusted XML, refusing DTDs, entity declarations and documents nested deeper than `max_depth`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # A cheap early refusal for the common case; the check after decoding (below) is the one that holds.
    if _DOCTYPE.search(raw, 0, 4096) or _ENTITY.search(raw):
        raise _dtd_refused(origin)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: not well-formed XML ({exc.msg})") from None
    if root is None:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: empty document")
    refuse_dtd(root, origin)
    _check_depth(root, origin, max_depth)
    return root


def refuse_dtd(element: etree._Element, origin: str) -> None:
    """Refuse a document that declared a DTD, whatever its encoding hid from a byte search (UTF-16, UTF-32, EBCDIC):
    its entities and attribute defaults would change the values a record carries."""
    info = element.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.doctype:
        raise _dtd_refused(origin)


def _dtd_refused(origin: str) -> FerryError:
    return FerryError(errors.MALFORMED_DOCUMENT, f"{origin}: DTDs and entity declarations are not accepted")


def _check_depth(root: etree._Element, origin: str, max_depth: int) -> None:
    if _deeper_than(max_depth)(root):
        raise FerryError(errors.DOCUMENT_TOO_LARGE, f"{origin}: elements nested deeper than {max_depth} levels")
