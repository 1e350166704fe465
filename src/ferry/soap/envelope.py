"""Reading a SOAP 1.1 request as Campaign clients send it: one method element, parameters by name or position."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.xmlsafe import parse_xml

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
_ENVELOPES = (SOAP11_ENV, SOAP12_ENV)
# Envelope > Body > Method > param > record root > (collection) record > value element, with room to spare.
MAX_DEPTH = 32
SESSION_COOKIE = "__sessiontoken"
# Campaign URNs hold `|` (`urn:xtk:persist|xtk:session`), which libxml2 refuses in a namespace name: it is
# percent-encoded in namespace declarations before parsing and decoded back in the URN.
_XMLNS = re.compile(rb"""(xmlns(?::[\w.-]+)?\s*=\s*)(["'])([^"'|]*\|[^"']*)\2""")
_PIPE = "%7C"


def _encode_pipes(match: re.Match[bytes]) -> bytes:
    return match.group(1) + match.group(2) + match.group(3).replace(b"|", _PIPE.encode()) + match.group(2)


def _local(element: etree._Element) -> str:
    tag: str = element.tag  # `{namespace}local` or `local` (elements only)
    return tag.rpartition("}")[2]


def _split(element: etree._Element) -> tuple[str | None, str]:
    """(namespace or None, local name) of an element, as etree.QName gives them, without building one."""
    tag: str = element.tag
    if tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


@dataclass(frozen=True)
class SoapRequest:
    """One call: `urn#method`, its parameters in order, and the tokens carried in the SOAP header."""

    urn: str
    method: str
    params: tuple[etree._Element, ...]
    header_session: str | None = None
    header_security: str | None = None

    @property
    def action(self) -> str:
        """`xtk:session#Logon`, as Campaign names a call."""
        return f"{self.urn}#{self.method}"

    def param(self, names: Sequence[str], position: int | None = None) -> etree._Element | None:
        """The parameter with one of `names` (local name, any namespace), else the one at `position` (0-based)."""
        for element in self.params:
            if _local(element) in names:
                return element
        if position is not None and 0 <= position < len(self.params):
            return self.params[position]
        return None

    def text(self, names: Sequence[str], position: int | None = None, default: str = "") -> str:
        """A scalar parameter's text ("" when empty or absent)."""
        element = self.param(names, position)
        if element is None:
            return default
        return element.text or ""

    def document(self, names: Sequence[str], position: int | None = None) -> etree._Element | None:
        """The root element a DOMDocument / DOMElement parameter carries, or None."""
        element = self.param(names, position)
        if element is None:
            return None
        children = _children(element)
        return children[0] if children else None

    @property
    def session_token(self) -> str | None:
        """The `sessiontoken` body parameter (always first in SDK calls), or None when empty."""
        return self.text(("sessiontoken",), None) or None


def parse_request(body: bytes, max_records: int | None = None) -> SoapRequest:
    """Parse and check a SOAP request; FerryError FRY-1000xx / FRY-400001 when it is not one. A document holding
    more than `max_records` records (elements under one element) is refused while it is parsed (FRY-100015)."""
    if not body.strip():
        raise FerryError(errors.SOAP_MALFORMED, "the request body is empty; send a SOAP envelope")
    if b"|" in body:
        body = _XMLNS.sub(_encode_pipes, body)
    root = parse_xml(body, origin="SOAP request", max_depth=MAX_DEPTH, max_children=max_records)
    namespace, local = _split(root)
    if local != "Envelope" or namespace not in _ENVELOPES:
        raise FerryError(errors.SOAP_MALFORMED, "the document is not a SOAP envelope "
                         f"(root element {local!r} in namespace {namespace or 'none'!r})")
    header = body_el = None
    for child in _children(root):
        name = _local(child)
        if name == "Header" and header is None:
            header = child
        elif name == "Body" and body_el is None:
            body_el = child
    if body_el is None:
        raise FerryError(errors.SOAP_MALFORMED, "the SOAP envelope has no Body")
    methods = _children(body_el)
    if len(methods) != 1:
        raise FerryError(errors.SOAP_MALFORMED, f"the SOAP Body must hold exactly one method element, "
                         f"not {len(methods)}")
    method = methods[0]
    method_namespace, method_name = _split(method)
    urn = method_namespace or ""
    if urn.startswith("urn:"):
        urn = urn[4:]
    urn = urn.replace(_PIPE, "|")
    session, security = _header_tokens(header)
    return SoapRequest(urn=urn, method=method_name, params=tuple(_children(method)),
                       header_session=session, header_security=security)


def _header_tokens(header: etree._Element | None) -> tuple[str | None, str | None]:
    session = security = None
    if header is None:
        return None, None
    for child in _children(header):
        name = _local(child)
        text = (child.text or "").strip()
        if name == "Cookie" and text:
            session = cookie_value(text, SESSION_COOKIE) or session
        elif name == "X-Security-Token" and text:
            security = text
    return session, security


def cookie_value(cookie_header: str, name: str) -> str | None:
    """One cookie's value from a `Cookie:` header text (`a=1; __sessiontoken=xyz`)."""
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value
    return None
