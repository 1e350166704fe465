"""Writing SOAP responses and faults byte-compatible with Campaign (reference acc-js-sdk-protocol.md §3).

The Adobe SDK compares prefixed names as strings: `SOAP-ENV:Body`, an unprefixed `<MethodResponse>`, a literal
`xsi:type` on every scalar output. Responses are built as text (no whitespace before `<?xml`).

Ingest and IngestExt answer exactly as Adobe's FFDA API documentation prints them (namespace `urn:wpp:default` on
the envelope's `ns` prefix and on the response, double quotes, no XML declaration): `seed_response`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from lxml import etree

SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
LITERAL_XML = "http://xml.apache.org/xml-soap/literalxml"
CONTENT_TYPE = "text/xml;charset=utf-8"
_FERRY_CODE = re.compile(r"FRY-\d{6}")

_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;",
                               "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def attr(value: object) -> str:
    """Escape a value for a single-quoted XML attribute."""
    return str(value).translate(_ATTR_ESCAPES)


def text(value: object) -> str:
    """Escape a value for XML character data."""
    return str(value).translate(_TEXT_ESCAPES)


# Campaign's own namespace for the Ingest / IngestExt answers (seed document: Adobe's "new APIs" page).
SEED_NAMESPACE = "urn:wpp:default"
SEED_METHODS = frozenset({"Ingest", "IngestExt"})


@dataclass(frozen=True)
class Output:
    """One output parameter, already rendered as XML text; `scalar` keeps (name, xsi:type, value) of a scalar."""

    xml: str
    scalar: tuple[str, str, str] | None = None


def string(name: str, value: str | None, xsi_type: str = "xsd:string") -> Output:
    """A scalar output (`xsd:string`, `xsd:byte`, `xsd:int`, `xsd:boolean`, …) with its literal xsi:type."""
    if value is None or value == "":
        return Output(f"<{name} xsi:type='{xsi_type}'/>", (name, xsi_type, ""))
    return Output(f"<{name} xsi:type='{xsi_type}'>{text(value)}</{name}>", (name, xsi_type, str(value)))


def number(name: str, value: int, xsi_type: str = "xsd:int") -> Output:
    """An integer output (`xsd:byte`, `xsd:short`, `xsd:int`, `xsd:long`)."""
    return string(name, str(int(value)), xsi_type)


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds: `2024-01-02T03:04:05.678Z`."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def datetime(name: str, value: dt.datetime) -> Output:
    """A datetime output: `xsd:dateTime` with a capital T, as the SDK requires in responses."""
    return string(name, timestamp(value), "xsd:dateTime")


def element(name: str, content: str | bytes | etree._Element | None) -> Output:
    """A DOMElement / DOMDocument output: `ns:Element` + literalxml; empty `<name xsi:type='ns:Element'/>` if None."""
    if content is None:
        return Output(f"<{name} xsi:type='ns:Element'/>")
    if isinstance(content, etree._Element):
        body = etree.tostring(content, encoding="unicode")
    elif isinstance(content, bytes):
        body = content.decode("utf-8")
    else:
        body = content
    return Output(f"<{name} xsi:type='ns:Element' SOAP-ENV:encodingStyle='{LITERAL_XML}'>{body}</{name}>")


def _envelope(urn: str, body: str) -> bytes:
    return (
        "<?xml version='1.0'?>\n"
        "<SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
        "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
        f"xmlns:ns='urn:{attr(urn)}' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>\n"
        f"<SOAP-ENV:Body>\n{body}\n</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
    ).encode()


def response(urn: str, method: str, outputs: tuple[Output, ...] | list[Output] = ()) -> bytes:
    """`<MethodResponse xmlns='urn:URN'>` with its outputs in schema order (the SDK reads them by position).

    Ingest / IngestExt: `seed_response` (Campaign's exact bytes)."""
    if method in SEED_METHODS and all(output.scalar is not None for output in outputs):
        return seed_response(method, outputs)
    head = f"<{method}Response xmlns='urn:{attr(urn)}' SOAP-ENV:encodingStyle='{SOAP_ENCODING}'"
    if not outputs:
        return _envelope(urn, head + "/>")
    inner = "\n".join(output.xml for output in outputs)
    return _envelope(urn, f"{head}>\n{inner}\n</{method}Response>")


def seed_response(method: str, outputs: tuple[Output, ...] | list[Output] = ()) -> bytes:
    """The answer byte for byte as Adobe's documentation prints it for Ingest / IngestExt (scalar outputs only)."""
    if len(outputs) == 1:  # every unitary Ingest answer: the same bytes from a template
        scalar = outputs[0].scalar
        assert scalar is not None
        name, xsi_type, value = scalar
        head, tail = _seed_frame(method)
        if value:
            return b"".join((head, f'        <{name} xsi:type="{xsi_type}">{text(value)}</{name}>'.encode(), tail))
        return b"".join((head, f'        <{name} xsi:type="{xsi_type}"/>'.encode(), tail))
    return _seed_lines(method, outputs)


@functools.lru_cache(maxsize=8)
def _seed_frame(method: str) -> tuple[bytes, bytes]:
    """What `_seed_lines` writes around a one-output answer of `method`: (up to the output line, after it)."""
    marker = "\x00"
    whole = _seed_lines(method, [Output("", ("n", "t", marker))]).decode()
    line = f'        <n xsi:type="t">{marker}</n>'
    head, _, tail = whole.partition(line)
    return head.encode(), tail.encode()


def _seed_lines(method: str, outputs: tuple[Output, ...] | list[Output]) -> bytes:
    head = (f'<{method}Response SOAP-ENV:encodingStyle="{SOAP_ENCODING}" xmlns="{SEED_NAMESPACE}"')
    lines = [f'<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
             f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="{SEED_NAMESPACE}" '
             'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">', "<SOAP-ENV:Body>"]
    if outputs:
        lines.append(f"    {head}>")
        for output in outputs:
            assert output.scalar is not None
            name, xsi_type, value = output.scalar
            if value:
                lines.append(f'        <{name} xsi:type="{xsi_type}">{text(value)}</{name}>')
            else:
                lines.append(f'        <{name} xsi:type="{xsi_type}"/>')
        lines.append(f"    </{method}Response>")
    else:
        lines.append(f"    {head}/>")
    lines += ["</SOAP-ENV:Body>", "</SOAP-ENV:Envelope>"]
    return "\n".join(lines).encode()


def fault(faultstring: str, *, faultcode: str = "SOAP-ENV:Client", detail: str | None = None,
          urn: str = "xtk:session") -> bytes:
    """A SOAP fault, sent with HTTP 200: the Campaign-style code must start `faultstring`.

    `detail` is ferry's `FRY-… message`. The SDK's message is faultstring + ". " + detail, so when faultstring
    already says the message, detail carries ferry's code alone (the text shows once, the code stays readable).
    """
    parts = [f"<faultcode>{text(faultcode)}</faultcode>",
             f"<faultstring xsi:type='xsd:string'>{text(faultstring)}</faultstring>"]
    if detail:
        code, _, message = detail.partition(" ")
        if message and _FERRY_CODE.fullmatch(code) and message in faultstring:
            detail = code
        parts.append(f"<detail xsi:type='xsd:string'>{text(detail)}</detail>")
    return _envelope(urn, "<SOAP-ENV:Fault>" + "".join(parts) + "</SOAP-ENV:Fault>")
