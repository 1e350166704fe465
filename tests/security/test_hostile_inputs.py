"""Hostile input, one class per row of HOSTILE (DESIGN §7, issue 15): each gets a clear coded error, stages nothing
(every staging table and ferry.requests keep their row counts) and never a 5xx.

Rows run in process against the app as `ferry serve` runs it; the door's classes (head size, header count, request
line, slowloris) run against a real `ferry serve` in tests/security/test_door_e2e.py and are listed here too, so
this table is the one list of what is tried.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.anyio

PASSWORD = "pw-Secret-1"  # tests/security/conftest.py's
CODED = re.compile(rb"(FRY|XSV|SOP)-\d{6}")
Send = Callable[[Any], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Hostile:
    """A class of hostile input: how to send it, the status and code it must get, settings it needs."""

    name: str
    send: Send | None  # None: tried by the test `door_test` of `where` (at the door, or on disk)
    status: int = 200
    code: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    door_test: str = ""
    where: str = "security/test_door_e2e.py"  # under tests/
    check: Callable[[httpx.Response], None] | None = None


def soap_doc(record: str) -> str:
    return f"<domDoc>{record}</domDoc>"


async def admin(site: Any) -> Any:
    return await site.tokens("admin")


async def soap_ingest(site: Any, record: str, **headers: str) -> httpx.Response:
    return await site.soap("xtk:session", "Ingest", soap_doc(record), await admin(site), **headers)


async def raw_soap(site: Any, body: bytes) -> httpx.Response:
    tokens = await admin(site)
    return await site.client.post("/nl/jsp/soaprouter.jsp", content=body,
                                  headers={"Content-Type": "text/xml", "X-Session-Token": tokens.session,
                                           "X-Security-Token": tokens.security})


def envelope(inner: str, session: str = "") -> bytes:
    return ('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
            f'<m:Ingest xmlns:m="urn:xtk:session"><sessiontoken>{session}</sessiontoken><domDoc>{inner}</domDoc>'
            "</m:Ingest></SOAP-ENV:Body></SOAP-ENV:Envelope>").encode()


async def rest(site: Any, method: str, url: str, *, tokens: Any = None, **kwargs: Any) -> httpx.Response:
    tokens = tokens if tokens is not None else await admin(site)
    headers = {**tokens.headers, **kwargs.pop("headers", {})}
    return await site.client.request(method, url, headers=headers, **kwargs)


async def ingest(site: Any, records: Any, schema: str = "nms:recipient", **kwargs: Any) -> httpx.Response:
    return await rest(site, "POST", f"/api/v1/ingest/{schema}", json=records, **kwargs)


BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;">]>')


async def billion_laughs(site: Any) -> httpx.Response:
    return await raw_soap(site, BOMB.encode() + envelope('<recipient xtkschema="nms:recipient" email="&lol4;"/>'))


async def xxe(site: Any) -> httpx.Response:
    dtd = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    return await raw_soap(site, dtd.encode() + envelope('<recipient xtkschema="nms:recipient" email="&x;"/>'))


async def dtd(site: Any) -> httpx.Response:
    return await raw_soap(site, b'<!DOCTYPE SOAP-ENV:Envelope [<!ELEMENT a ANY>]>' + envelope(
        '<recipient xtkschema="nms:recipient" email="a@x.com"/>'))


async def deep(site: Any) -> httpx.Response:
    nested = "<a>" * 5000 + "</a>" * 5000
    return await raw_soap(site, envelope(f'<recipient xtkschema="nms:recipient" email="a@x.com">{nested}</recipient>'))


async def huge(site: Any) -> httpx.Response:
    return await ingest(site, [{"email": f"u{n}@x.com", "firstName": "x" * 40} for n in range(40_000)])


async def unknown_schema(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com"}, schema="nms:nothingHere")


async def unknown_attribute(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com", "noSuchAttribute": "1"})


async def wrong_type(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com", "birthDate": "not a date"})


async def too_long(site: Any) -> httpx.Response:
    return await ingest(site, {"testcol1": "x" * 300}, schema="dem:sampleTable")


async def sql_schema_name(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com"}, schema="nms:recipient;DROP TABLE ferry.requests")


async def sql_attribute_name(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com", 'email" text); DROP TABLE ferry.requests; --': "x"})


async def sql_typed_value(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com", "blackList": "1; DROP TABLE ferry.requests"})


async def sql_filter(site: Any) -> httpx.Response:
    return await rest(site, "GET", "/api/v1/data/nms/recipient",
                      params={"filter": "@email = '' OR 1=1; DROP TABLE ferry.requests; --"})


async def sql_order(site: Any) -> httpx.Response:
    return await rest(site, "GET", "/api/v1/data/nms/recipient", params={"order": "email;DROP TABLE ferry.requests"})


async def sql_query_def(site: Any) -> httpx.Response:
    query = ('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email); DROP TABLE x; --"/>'
             "</select></queryDef>")
    return await site.soap("xtk:queryDef", "ExecuteQuery", f"<document>{query}</document>", await admin(site))


async def path_traversal(site: Any) -> httpx.Response:
    return await rest(site, "GET", "/api/v1/data/..%2F..%2Fetc/passwd")


async def wsdl_traversal(site: Any) -> httpx.Response:
    return await site.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "../../../../etc/passwd"})


async def forged_token(site: Any) -> httpx.Response:
    forged = type("T", (), {"headers": {"Authorization": "Bearer ___00000000-0000-0000-0000-000000000000",
                                        "X-Security-Token": "@forged"}})()
    return await ingest(site, {"email": "a@x.com"}, tokens=forged)


async def expired_token(site: Any) -> httpx.Response:
    tokens = await site.logon("admin")
    with psycopg.connect(site.db.url, autocommit=True) as conn:
        conn.execute("UPDATE ferry.sessions SET expires_at = now() - interval '1 second'")
    site.runtime.auth._cache.clear()  # the process cache would still hold it for 1.5 s
    return await ingest(site, {"email": "a@x.com"}, tokens=tokens)


async def logged_off_token(site: Any) -> httpx.Response:
    tokens = await site.logon("admin")
    await site.client.post("/api/v1/logoff", headers=tokens.headers)
    return await ingest(site, {"email": "a@x.com"}, tokens=tokens)


async def missing_security_token(site: Any) -> httpx.Response:
    tokens = await admin(site)
    return await site.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x.com"},
                                  headers={"Authorization": f"Bearer {tokens.session}"})


async def other_sessions_security_token(site: Any) -> httpx.Response:
    mine, theirs = await site.logon("admin"), await site.logon("ops1")
    return await site.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x.com"},
                                  headers={"Authorization": f"Bearer {mine.session}",
                                           "X-Security-Token": theirs.security})


async def bad_logon(site: Any) -> httpx.Response:
    return await site.soap("xtk:session", "Logon", "<login>admin</login><password>' OR '1'='1</password>")


async def throttled_logon(site: Any) -> httpx.Response:
    for _ in range(3):
        await site.client.post("/api/v1/logon", json={"login": "admin", "password": "guess"})
    return await site.client.post("/api/v1/logon", json={"login": "admin", "password": PASSWORD})


async def rate_limit(site: Any) -> httpx.Response:
    tokens = await site.logon("ops1")
    reply = None
    for _ in range(20):
        reply = await rest(site, "GET", "/api/v1/status", tokens=tokens)
        if reply.status_code == 429:
            break
    assert reply is not None
    before = site.counts()
    refused = await ingest(site, {"testcol1": "x"}, schema="dem:sampleTable", tokens=tokens)
    assert site.counts() == before
    return refused


async def console_csrf(site: Any) -> httpx.Response:
    tokens = await admin(site)
    return await site.client.post("/console/rows/discard", data={"schema": "nms:recipient", "uuid": "x"},
                                  headers={"Cookie": tokens.console_cookie})


XSS = '<script>alert("x")</script>'


def escaped(reply: httpx.Response) -> None:
    assert XSS not in reply.text and "&lt;script&gt;" in reply.text


def not_echoed(reply: httpx.Response) -> None:
    assert XSS not in reply.text and "<script" not in reply.text


async def xss_console(site: Any) -> httpx.Response:
    tokens = await admin(site)
    return await site.client.get("/console/lookup", params={"q": XSS}, headers={"Cookie": tokens.console_cookie})


async def xss_link(site: Any) -> httpx.Response:
    return await site.client.get("/l/unsubscribe", params={"t": XSS})


async def crlf_injection(site: Any) -> httpx.Response:
    reply = await site.client.post("/api/v1/logon", json={"login": "admin\r\nSet-Cookie: owned=1", "password": "x"})
    assert "owned" not in str(reply.headers)
    return reply


async def bad_json(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=b'{"email": "a@x.com",',
                      headers={"Content-Type": "application/json"})


async def ndjson_bomb(site: Any) -> httpx.Response:
    body = b"".join(b'{"email": "u%d@x.com"}\n' % n for n in range(2_000))
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=body,
                      headers={"Content-Type": "application/x-ndjson"})


async def bad_utf8(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=b'{"email": "\xff\xfe@x.com"}',
                      headers={"Content-Type": "application/json"})


async def bad_utf8_xml(site: Any) -> httpx.Response:
    return await raw_soap(site, envelope('<recipient xtkschema="nms:recipient" email="X@x.com"/>').replace(
        b"X@", b"\xff\xfe@"))


async def huge_number(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=b'{"email": "a@x.com", "blackList": '
                      + b"9" * 5000 + b"}", headers={"Content-Type": "application/json"})


async def nul_bytes(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a\u0000@x.com"})


async def nul_bytes_soap(site: Any) -> httpx.Response:
    return await raw_soap(site, envelope('<recipient xtkschema="nms:recipient" email="a&#0;@x.com"/>'))


async def not_an_envelope(site: Any) -> httpx.Response:
    return await raw_soap(site, b"<hello>world</hello>")


async def unknown_method(site: Any) -> httpx.Response:
    return await site.soap("xtk:session", "DropDatabase", "", await admin(site))


async def mixed_schemas(site: Any) -> httpx.Response:
    return await ingest(site, [{"email": "a@x.com"}, {"xtkschema": "dem:sampleTable", "testcol1": "x"}])


async def wrong_content_type(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=b"email=a@x.com",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})


async def forged_link(site: Any) -> httpx.Response:
    return await site.client.post("/l/unsubscribe", params={"t": "eyJmb3JnZWQiOnRydWV9.AAAA"})


async def no_right(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com"}, tokens=await site.tokens("ops1"))


async def empty_record_soap(site: Any) -> httpx.Response:
    return await raw_soap(site, envelope(""))


async def invalid_key(site: Any) -> httpx.Response:
    return await ingest(site, {"email": "a@x.com", "_key": "@email); DROP TABLE x; --"}, schema="nms:recipient")


async def bad_operation(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest-ext/nms:recipient",
                      json={"email": "a@x.com", "_key": "@email", "_operation": "truncate"})


async def dtd_utf16(site: Any) -> httpx.Response:
    # Issue 27: the byte search for "<!DOCTYPE" missed it in UTF-16; the entity reached a stored value and the
    # attribute default named the record's schema.
    head = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE SOAP-ENV:Envelope [<!ENTITY e "boom">'
            '<!ATTLIST recipient xtkschema CDATA "nms:recipient">]>')
    return await raw_soap(site, (head + envelope('<recipient email="&e;@x.com"/>').decode()).encode("utf-16"))


async def lax_underscore_number(site: Any) -> httpx.Response:
    return await ingest(site, {"n": "1_000"}, schema="tst:typed")


async def lax_arabic_digits(site: Any) -> httpx.Response:
    return await ingest(site, {"n": "\u0661\u0662"}, schema="tst:typed")


async def lax_padded_number(site: Any) -> httpx.Response:
    return await ingest(site, {"n": " 12 "}, schema="tst:typed")


async def lax_true_as_number(site: Any) -> httpx.Response:
    return await ingest(site, {"n": True}, schema="tst:typed")


async def single_precision_overflow(site: Any) -> httpx.Response:
    return await ingest(site, {"f": "1e39"}, schema="tst:typed")


async def datetime_past_9999(site: Any) -> httpx.Response:
    return await ingest(site, {"at": "9999-12-31T23:59:59-14:00"}, schema="tst:typed")


async def datetime_before_year_1(site: Any) -> httpx.Response:
    return await ingest(site, {"at": "0001-01-01T00:00:00+14:00"}, schema="tst:typed")


async def namespaced_attribute(site: Any) -> httpx.Response:
    return await soap_ingest(site, '<sampleTable xmlns:r="urn:r" xtkschema="dem:sampleTable" testcol1="mine" '
                                   'r:testcol1="theirs"/>')


# Issue 27, item 3: past the record limit, the parse stops. Each body ends malformed: a server that parsed it whole
# before counting would answer "malformed", not "too many records".
async def json_array_past_the_limit(site: Any) -> httpx.Response:
    body = b"[" + b",".join(b'{"email": "u%d@x.com"}' % n for n in range(5_000)) + b", {oops"
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=body,
                      headers={"Content-Type": "application/json"})


async def ndjson_past_the_limit(site: Any) -> httpx.Response:
    body = b"".join(b'{"email": "u%d@x.com"}\n' % n for n in range(5_000)) + b"{oops\n"
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=body,
                      headers={"Content-Type": "application/x-ndjson"})


async def soap_collection_past_the_limit(site: Any) -> httpx.Response:
    records = "".join(f'<recipient email="u{n}@x.com"/>' for n in range(5_000))
    body = envelope(f'<recipient-collection xtkschema="nms:recipient">{records}</recipient-collection>')
    return await raw_soap(site, body[:-20] + b"<<<")


# Issue 27, item 7: answers that were not coded (a 500 whose own reply failed to encode, a 503 from psycopg, a
# warehouse fault).
async def json_body(site: Any, body: bytes) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/ingest/nms:recipient", content=body,
                      headers={"Content-Type": "application/json"})


async def surrogate_attribute_name(site: Any) -> httpx.Response:
    return await json_body(site, b'{"\\ud800": "x"}')


async def surrogate_key(site: Any) -> httpx.Response:
    return await json_body(site, b'{"email": "a@x.com", "_key": "@\\udc00"}')


async def surrogate_value(site: Any) -> httpx.Response:
    return await json_body(site, b'{"email": "a\\ud800@x.com"}')


async def nul_login(site: Any) -> httpx.Response:
    return await site.client.post("/api/v1/logon", json={"login": "ad\u0000min", "password": PASSWORD})


async def nul_login_console(site: Any) -> httpx.Response:
    form = await site.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    return await site.client.post("/console/login", data={"csrf": token.group(1), "login": "ad\u0000min",
                                                            "password": PASSWORD})


async def constant_order_by(site: Any) -> httpx.Response:
    query = ('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/></select>'
             '<orderBy><node expr="1"/></orderBy></queryDef>')
    return await site.soap("xtk:queryDef", "ExecuteQuery", f"<document>{query}</document>", await admin(site))


# Issue 27, item 9: a Host header chose the WSDL's soap:address and the base of minted links.
async def host_in_wsdl(site: Any) -> httpx.Response:
    return await site.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "xtk:session"},
                                 headers={"Host": "evil.example"})


async def host_in_link(site: Any) -> httpx.Response:
    return await rest(site, "POST", "/api/v1/services/news/links", json={"email": "ann@x.com"},
                      headers={"Host": "evil.example"})


def host_not_reflected(reply: httpx.Response) -> None:
    assert "evil.example" not in reply.text and "127.0.0.1:8080" in reply.text


# Issue 27, item 10: what a one-schema operator may not read, it does not learn.
async def other_schemas_attributes(site: Any) -> httpx.Response:
    return await site.soap("xtk:persist", "GetEntityIfMoreRecent",
                           "<pk xsi:type='xsd:string'>xtk:schema|nms:recipient</pk>", await site.tokens("ops1"))


def no_recipient_attributes(reply: httpx.Response) -> None:
    assert 'name="email"' not in reply.text and "pdomDoc" in reply.text


HOSTILE: list[Hostile] = [
    Hostile("xml entity bomb (billion laughs)", billion_laughs, 200, "FRY-1000"),
    Hostile("external entity (XXE)", xxe, 200, "FRY-1000"),
    Hostile("DTD in the request", dtd, 200, "FRY-1000"),
    Hostile("deeply nested document", deep, 200, "FRY-1000"),
    Hostile("huge document (over max_body_bytes)", huge, 413, "FRY-600008", {"max_body_bytes": 1 << 20}),
    Hostile("oversized headers (64 MB on /r/test)", None, door_test="test_a_64_mb_header_on_r_test_is_refused"),
    Hostile("too many header lines", None, door_test="test_too_many_headers_and_a_long_request_line"),
    Hostile("long request line", None, door_test="test_too_many_headers_and_a_long_request_line"),
    Hostile("slowloris (headers and body)", None, door_test="test_slowloris_headers_and_a_stalled_body_time_out"),
    Hostile("connection flood from one address", None, door_test="test_connections_per_client_address_are_capped"),
    Hostile("unknown schema", unknown_schema, 404, "FRY-100003"),
    Hostile("unknown attribute", unknown_attribute, 422, "FRY-100005"),
    Hostile("value of the wrong type", wrong_type, 422, "FRY-100006"),
    Hostile("value too long", too_long, 422, "FRY-100007"),
    Hostile("SQL in a schema name", sql_schema_name, 404, "FRY-1000"),
    Hostile("SQL in an attribute name", sql_attribute_name, 422, "FRY-100005"),
    Hostile("SQL in a typed value", sql_typed_value, 422, "FRY-100006"),
    Hostile("SQL in a REST filter", sql_filter, 422, "FRY-7000"),
    Hostile("SQL in a REST order", sql_order, 422, "FRY-7000"),
    Hostile("SQL in an ExecuteQuery expression", sql_query_def, 200, "FRY-7000"),
    Hostile("SQL in _key", invalid_key, 422, "FRY-1000"),
    Hostile("invalid _operation", bad_operation, 422, "FRY-100010"),
    Hostile("path traversal in a data URL", path_traversal, 404, "FRY-"),
    Hostile("path traversal in the WSDL schema", wsdl_traversal, 404),
    Hostile("forged token", forged_token, 401, "XSV-350008"),
    Hostile("expired token", expired_token, 401, "XSV-350008"),
    Hostile("logged-off token", logged_off_token, 401, "XSV-350008"),
    Hostile("missing security token", missing_security_token, 401, "XSV-350008"),
    Hostile("another session's security token", other_sessions_security_token, 401, "XSV-350008"),
    Hostile("bad logon (SQL in the password)", bad_logon, 200, "XSV-350022"),
    Hostile("repeated bad logons (throttled)", throttled_logon, 429, "FRY-600012", {"logon_free_attempts": 3,
                                                                                   "logon_base_delay": 60.0}),
    Hostile("calls past the rate limit", rate_limit, 429, "FRY-600004", {"rate_limit": 2.0}),
    Hostile("no right on the schema", no_right, 403, "FRY-600003"),
    Hostile("CSRF on a console form", console_csrf, 403, "FRY-900001"),
    Hostile("XSS payload in a console page", xss_console, 200, check=escaped),
    Hostile("XSS payload in a one-click link", xss_link, 400, check=not_echoed),
    Hostile("CRLF / header injection", crlf_injection, 401, "FRY-600001"),
    Hostile("malformed JSON", bad_json, 400, "FRY-100001"),
    Hostile("NDJSON bomb (too many records)", ndjson_bomb, 413, "FRY-100015", {"max_records_per_call": 1000}),
    Hostile("invalid UTF-8 in JSON", bad_utf8, 400, "FRY-100001"),
    Hostile("invalid UTF-8 in XML", bad_utf8_xml, 200, "FRY-"),
    Hostile("huge number", huge_number, 400, "FRY-100001"),
    Hostile("NUL byte in a JSON value", nul_bytes, 422, "FRY-1000"),
    Hostile("NUL character reference in XML", nul_bytes_soap, 200, "FRY-1000"),
    Hostile("not a SOAP envelope", not_an_envelope, 200, "FRY-400001"),
    Hostile("unknown SOAP method", unknown_method, 200, "SOP-330006"),
    Hostile("several schemas in one call", mixed_schemas, 422, "FRY-100014"),
    Hostile("unsupported content type", wrong_content_type, 415, "FRY-600009"),
    Hostile("forged unsubscribe link", forged_link, 400),
    Hostile("empty Ingest document", empty_record_soap, 200, "FRY-100012"),
    Hostile("DTD hidden by a UTF-16 body", dtd_utf16, 200, "FRY-100001"),
    Hostile("number with underscores (1_000)", lax_underscore_number, 422, "FRY-100006"),
    Hostile("Arabic-Indic digits in a number", lax_arabic_digits, 422, "FRY-100006"),
    Hostile("number padded with spaces", lax_padded_number, 422, "FRY-100006"),
    Hostile("JSON true as a number", lax_true_as_number, 422, "FRY-100006"),
    Hostile("1e39 into a single-precision float", single_precision_overflow, 422, "FRY-100006"),
    Hostile("datetime past 9999 once its offset applies", datetime_past_9999, 422, "FRY-100006"),
    Hostile("datetime before year 1 once its offset applies", datetime_before_year_1, 422, "FRY-100006"),
    Hostile("namespaced attribute overriding another", namespaced_attribute, 200, "FRY-100005"),
    Hostile("JSON array past the record limit, stopped mid-parse", json_array_past_the_limit, 413, "FRY-100015",
            {"max_records_per_call": 1000}),
    Hostile("NDJSON past the record limit, stopped before decoding", ndjson_past_the_limit, 413, "FRY-100015",
            {"max_records_per_call": 1000}),
    Hostile("SOAP collection past the record limit, stopped mid-parse", soap_collection_past_the_limit, 200,
            "FRY-100015", {"max_records_per_call": 1000}),
    Hostile("lone surrogate in a JSON attribute name", surrogate_attribute_name, 400, "FRY-100001"),
    Hostile("lone surrogate in _key", surrogate_key, 400, "FRY-100001"),
    Hostile("lone surrogate in a JSON value", surrogate_value, 400, "FRY-100001"),
    Hostile("NUL in a REST login", nul_login, 400, "FRY-600010"),
    Hostile("NUL in a console login", nul_login_console, 401),
    Hostile("constant orderBy (1) in ExecuteQuery", constant_order_by, 200, "FRY-700001"),
    Hostile("Host header pointing the WSDL's soap:address elsewhere", host_in_wsdl, 200, check=host_not_reflected),
    Hostile("Host header in a minted unsubscribe link", host_in_link, 200, check=host_not_reflected),
    Hostile("another schema's attributes through GetEntityIfMoreRecent", other_schemas_attributes, 200,
            check=no_recipient_attributes),
    Hostile("another schema's backlog through mcPing", None,
            door_test="test_mcping_counts_only_the_schemas_the_operator_may_read",
            where="security/test_smaller_holes.py"),
    Hostile("DTD hidden by UTF-16 in a bulk file or schema file", None, code="FRY-100001",
            door_test="test_bulk_files_and_schema_files_refuse_a_hidden_dtd", where="test_xmlsafe.py"),
    Hostile("a schema applied onto another schema's table", None, code="FRY-200005",
            door_test="test_a_schema_whose_table_is_taken_is_refused_naming_both",
            where="staging/test_table_names.py"),
    Hostile("ferry.toml planted by another user or writable by all", None, code="FRY-300006",
            door_test="test_a_planted_ferry_toml_is_refused_unless_its_folder_is_trusted", where="test_config.py"),
    Hostile("local user reading the warehouse file", None,
            door_test="test_the_ferry_command_makes_the_data_folder_and_warehouse_private",
            where="test_private_files.py"),
]


def test_the_list_names_at_least_30_classes() -> None:
    names = [item.name for item in HOSTILE]
    assert len(names) == len(set(names)) >= 30, len(names)


@pytest.fixture
def site_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    case: Hostile | None = getattr(request.node, "callspec", None) and request.node.callspec.params.get("case")
    return dict(case.settings) if case is not None else {}


@pytest.mark.parametrize("case", [c for c in HOSTILE if c.send is not None], ids=lambda c: c.name)
async def test_hostile_input(site: Any, case: Hostile) -> None:
    assert case.send is not None
    await site.tokens("admin")  # log on first: the logon is not what is measured
    before = site.counts()
    reply = await case.send(site)
    assert reply.status_code < 500, reply.text[:500]
    assert reply.status_code == case.status, (reply.status_code, reply.text[:500])
    if case.code:
        assert case.code.encode() in reply.content, reply.text[:500]
        assert CODED.search(reply.content), reply.text[:500]
    if case.check is not None:
        case.check(reply)
    assert site.counts() == before, f"{case.name} staged something"


def test_door_classes_name_real_tests() -> None:
    from pathlib import Path

    tests = Path(__file__).parent.parent
    for case in HOSTILE:
        if case.send is None:
            text = (tests / case.where).read_text("utf-8")
            assert f"def {case.door_test}" in text, case.name


def test_every_class_has_a_distinct_sender() -> None:
    senders = [case.send for case in HOSTILE if case.send is not None]
    assert len(senders) == len(set(senders))
