"""Hostile input against a real `ferry serve`: each gets its documented error and staging stays unchanged."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = pytest.mark.e2e

ENV = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
       'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
       '<SOAP-ENV:Body><m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{token}</sessiontoken>'
       '{params}</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>')
GOOD = '<sampleTable xtkschema="dem:sampleTable" testcol1="ok"/>'


def envelope(params: str, token: str = "", method: str = "Ingest", urn: str = "xtk:session") -> str:
    return ENV.format(method=method, urn=urn, token=token, params=params)


def ingest_doc(record: str) -> str:
    return f"<domDoc>{record}</domDoc>"


def post(server: Any, body: str | bytes, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.post(f"{server.url}/nl/jsp/soaprouter.jsp", content=content,
                      headers={"Content-Type": "text/xml", **headers}, timeout=30)


def faultstring(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    start = reply.text.find("<faultstring xsi:type='xsd:string'>")
    assert start >= 0, reply.text
    return reply.text[start + len("<faultstring xsi:type='xsd:string'>"):reply.text.index("</faultstring>")]


def logon(server: Any, login: str = "admin", password: str = "secret") -> tuple[str, str]:
    reply = post(server, envelope(f"<login>{login}</login><password>{password}</password>", method="Logon"))
    text = reply.text
    session = text.split("<pstrSessionToken xsi:type='xsd:string'>")[1].split("<")[0]
    security = text.split("<pstrSecurityToken xsi:type='xsd:string'>")[1].split("<")[0]
    return session, security


@pytest.fixture(scope="module")
def tokens(server: Any) -> tuple[str, str]:
    return logon(server)


@pytest.fixture
def unchanged(server: Any) -> Iterator[None]:
    """Asserts, after the test, that nothing was staged by it."""
    before = server.snapshot()
    yield
    assert server.snapshot() == before


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
"""


def test_billion_laughs(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    body = BILLION_LAUGHS + envelope(ingest_doc('<sampleTable xtkschema="dem:sampleTable" testcol1="&lol9;"/>'),
                                     tokens[0])
    fault = faultstring(post(server, body, **{"X-Security-Token": tokens[1]}))
    assert fault.startswith("FRY-100001 ") and "DTD" in fault


def test_external_entity(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    body = XXE + envelope(ingest_doc('<sampleTable xtkschema="dem:sampleTable" testcol1="&xxe;"/>'), tokens[0])
    reply = post(server, body, **{"X-Security-Token": tokens[1]})
    assert faultstring(reply).startswith("FRY-100001 ")
    assert "root:" not in reply.text


def test_entity_declaration_deep_in_a_big_body(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    padding = "<!-- " + "x" * 8000 + " -->"
    body = envelope(ingest_doc(GOOD), tokens[0]).replace("<SOAP-ENV:Body>", padding + "<!ENTITY a 'b'><SOAP-ENV:Body>")
    assert faultstring(post(server, body, **{"X-Security-Token": tokens[1]})).startswith("FRY-100001 ")


def test_100_mb_body_is_refused_before_it_is_read(server: Any, unchanged: None) -> None:
    """A declared 100 MB body gets 413 before a single body byte was sent: the server never reads it."""
    url = urlparse(server.url)
    assert url.hostname is not None and url.port is not None
    size = 100 * 1024 * 1024
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(f"POST /nl/jsp/soaprouter.jsp HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: text/xml\r\n"
                     f"Content-Length: {size}\r\n\r\n".encode())
        reply = b""
        while b"</SOAP-ENV:Envelope>" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head = reply.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 413"), reply[:500]
    assert b"FRY-600008 the request body is 104857600 bytes; the limit is" in reply
    # The worker keeps serving.
    assert httpx.get(f"{server.url}/r/test", timeout=5).status_code == 200


def test_streamed_body_over_the_limit(short_lived: Any) -> None:
    """A chunked body (no Content-Length) is cut off at the limit (1 MB here) while it streams: 413."""
    sent = 0
    before = short_lived.snapshot()

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b"<SOAP-ENV:Envelope>"
        for _ in range(100):  # 100 x 64 KB = 6.4 MB offered
            sent += 1
            yield b" " * 65536

    try:
        reply = httpx.post(f"{short_lived.url}/nl/jsp/soaprouter.jsp", content=chunks(), timeout=30)
    except httpx.TransportError:
        pass  # the server may close while the client is still writing; what matters is below
    else:
        assert reply.status_code == 413
        assert b"FRY-600008" in reply.content
    assert sent < 100
    assert httpx.get(f"{short_lived.url}/r/test", timeout=5).status_code == 200
    assert short_lived.snapshot() == before


def test_deep_nesting(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    deep = "<a>" * 10_000 + "</a>" * 10_000
    fault = faultstring(post(server, envelope(ingest_doc(deep), tokens[0]), **{"X-Security-Token": tokens[1]}))
    assert fault.startswith(("FRY-100016 ", "FRY-100001 ")), fault
    assert httpx.get(f"{server.url}/r/test", timeout=5).status_code == 200


def test_malformed_xml(server: Any, unchanged: None) -> None:
    assert faultstring(post(server, "<SOAP-ENV:Envelope><unclosed>")).startswith("FRY-100001 ")
    assert faultstring(post(server, "")).startswith("FRY-400001 ")
    assert faultstring(post(server, "<x/>")).startswith("FRY-400001 ")


def _ingest_with(server: Any, token: str, security: str | None) -> str:
    headers = {"X-Security-Token": security} if security is not None else {}
    return faultstring(post(server, envelope(ingest_doc(GOOD), token), **headers))


SESSION_FAULT = "XSV-350008 Session has expired or is invalid. Please reconnect."


def test_wrong_tokens(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    assert _ingest_with(server, "___forged", tokens[1]) == SESSION_FAULT
    assert _ingest_with(server, tokens[0], "@forged==") == SESSION_FAULT
    assert _ingest_with(server, "", "") == SESSION_FAULT


def test_missing_security_token(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    """Reported as a missing header, not as an expired session (which sends people to log on again in vain)."""
    fault = _ingest_with(server, tokens[0], None)
    assert fault.startswith("XSV-350008 The security token is missing") and "X-Security-Token" in fault


def test_token_of_another_operator(server: Any, tokens: tuple[str, str], operators: Any) -> None:
    operators(server, "bob", "pw", ["dem:sampleTable"])
    bob_session, bob_security = logon(server, "bob", "pw")
    before = server.snapshot()
    assert _ingest_with(server, tokens[0], bob_security) == SESSION_FAULT
    assert _ingest_with(server, bob_session, tokens[1]) == SESSION_FAULT
    assert server.snapshot() == before


def test_bad_logon(server: Any, unchanged: None) -> None:
    reply = post(server, envelope("<login>admin</login><password>wrong</password>", method="Logon"))
    assert faultstring(reply).startswith("XSV-350022 ")


def test_sql_in_attribute_names_is_refused(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    for record in ('<sampleTable xtkschema="dem:sampleTable" testcol1--="x"/>',
                   '<sampleTable xtkschema="dem:sampleTable" _state="synced" testcol1="x"/>',
                   '<sampleTable xtkschema="dem:sampleTable"><testcol1_x.drop>1</testcol1_x.drop></sampleTable>'):
        fault = faultstring(post(server, envelope(ingest_doc(record), tokens[0]), **{"X-Security-Token": tokens[1]}))
        assert "FRY-100005" in fault, fault


def test_sql_in_values_is_stored_verbatim(server: Any, tokens: tuple[str, str]) -> None:
    value = "x'); DROP TABLE ferry.requests; --"
    record = f'<sampleTable xtkschema="dem:sampleTable" testcol1="{value}" testcol2="&quot;;--"/>'
    reply = post(server, envelope(ingest_doc(record), tokens[0]), **{"X-Security-Token": tokens[1]})
    assert '<pstrSUuids xsi:type="xsd:string">' in reply.text
    assert server.rows()[-1][2:] == (value, '";--')
    assert server.snapshot()[1] > 0  # ferry.requests still exists


def test_unknown_method(server: Any, tokens: tuple[str, str], unchanged: None) -> None:
    reply = post(server, envelope(ingest_doc(GOOD), tokens[0], method="IngestAll"),
                 **{"X-Security-Token": tokens[1]})
    assert faultstring(reply) == "SOP-330006 The method 'IngestAll' is not defined in SOAP service 'xtk:session'."


@pytest.fixture(scope="module")
def short_lived(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory,
                launch: Any) -> Iterator[Any]:
    """A second server: sessions last one second, 5 calls per second per operator, bodies up to 1 MB."""
    start_server, stop_server = launch
    running = start_server(new_database(), tmp_path_factory.mktemp("ferry-short"), FERRY_SESSION_TTL="1",
                           FERRY_RATE_LIMIT="5", FERRY_MAX_BODY_BYTES=str(1024 * 1024))
    try:
        yield running
    finally:
        assert stop_server(running) == 0


def test_expired_token(short_lived: Any) -> None:
    session, security = logon(short_lived)
    before = short_lived.snapshot()
    time.sleep(2.0)
    assert _ingest_with(short_lived, session, security) == SESSION_FAULT
    assert short_lived.snapshot() == before


@pytest.fixture(scope="module")
def rate_limited(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory,
                 launch: Any) -> Iterator[Any]:
    """A server allowing 5 calls per second per operator, with sessions that outlive a slow machine's 30 calls."""
    start_server, stop_server = launch
    running = start_server(new_database(), tmp_path_factory.mktemp("ferry-rate"), FERRY_RATE_LIMIT="5")
    try:
        yield running
    finally:
        assert stop_server(running) == 0


def test_rate_limit(rate_limited: Any) -> None:
    # Not on `short_lived`: its one-second sessions could expire before the budget is spent on a loaded machine.
    session, security = logon(rate_limited)
    statuses = [post(rate_limited, envelope("", session, method="GetServerTime"),
                     **{"X-Security-Token": security}).status_code for _ in range(30)]
    assert 429 in statuses
    refused = next(i for i, status in enumerate(statuses) if status == 429)
    assert all(status == 200 for status in statuses[:refused])
