"""JXON (Campaign's JSON form of an XML document) → an lxml element, so JSON documents take the XML code path.

`{recipient: {xtkschema: "nms:recipient", email: "a@x.com", node: [{expr: "@email"}], $: "text"}}`: the one key
of the top object is the root element; a scalar property is an attribute, an object a child element, an array
repeated child elements, `$` the element's text; null values are left out.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.xmlsafe import MAX_DEPTH


def to_element(document: Any, what: str) -> etree._Element:
    """The XML element a JXON document stands for."""
    if not isinstance(document, dict) or len(document) != 1:
        raise FerryError(errors.SCRIPT_BAD_ARGUMENT, f"{what}: a JXON document is an object with one property, the "
                         "root element, e.g. {recipient: {xtkschema: \"nms:recipient\", email: \"a@x.com\"}}")
    (name, body), = document.items()
    root = _element(None, name, what)
    _fill(root, body, what, 1)
    return root


def _element(parent: etree._Element | None, name: str, what: str) -> etree._Element:
    try:
        return etree.Element(name) if parent is None else etree.SubElement(parent, name)
    except ValueError:
        raise FerryError(errors.MALFORMED_DOCUMENT, f"{what}: {name!r} is not an XML element name") from None


def _fill(element: etree._Element, body: Any, what: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise FerryError(errors.DOCUMENT_TOO_LARGE, f"{what}: objects nested deeper than {MAX_DEPTH} levels")
    if not isinstance(body, dict):
        if body is not None:
            element.text = _text(body)
        return
    for name, value in body.items():
        if name == "$":
            if value is not None:
                element.text = _text(value)
        elif isinstance(value, dict):
            _fill(_element(element, name, what), value, what, depth + 1)
        elif isinstance(value, list):
            for item in value:
                _fill(_element(element, name, what), item, what, depth + 1)
        elif value is not None:
            try:
                element.set(name, _text(value))
            except ValueError:
                raise FerryError(errors.MALFORMED_DOCUMENT, f"{what}: {name!r} is not an XML attribute name") \
                    from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
