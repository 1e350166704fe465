"""The SOAP router in process: Logon, Ingest, IngestExt, schemas, faults, tokens."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from session_confirms import ConfirmQueries

pytestmark = pytest.mark.anyio

RECORD = '<sampleTable xtkschema="dem:sampleTable" testcol1="a" testcol2="b"/>'


async def test_logon_response_shape(soap: Any) -> None:
    reply = await soap.call("xtk:session", "Logon", '<login xsi:type="xsd:string">admin</login>'
                            '<password xsi:type="xsd:string">secret</password>'
                            '<parameters xsi:type="ns:Element" SOAP-ENV:encodingStyle="x"/>')
    assert reply.status == 200
    assert reply.body.startswith(b"<?xml version='1.0'?>\n<SOAP-ENV:Envelope ")
    text = reply.body.decode()
    assert "<SOAP-ENV:Body>" in text
    assert "<LogonResponse xmlns='urn:xtk:session' SOAP-ENV:encodingStyle=" in text
    assert re.search(r"<pstrSessionToken xsi:type='xsd:string'>[^<]+</pstrSessionToken>", text)
    assert re.search(r"<pstrSecurityToken xsi:type='xsd:string'>[^<]+</pstrSecurityToken>", text)
    info = reply.output("pSessionInfo")
    assert info.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "ns:Element"
    session_info = info[0]
    assert session_info.tag.endswith("sessionInfo")
    user = next(el for el in session_info if el.tag.endswith("userInfo"))
    assert user.get("login") == "admin" and user.get("loginId")
    assert any(el.tag.endswith("serverInfo") for el in session_info)


async def test_logon_adobe_names_and_bad_password(soap: Any) -> None:
    good = await soap.call("xtk:session", "Logon", "<urn:strLogin xmlns:urn='urn:xtk:session'>admin</urn:strLogin>"
                           "<urn:strPassword xmlns:urn='urn:xtk:session'>secret</urn:strPassword>")
    assert good.fault is None
    by_position = await soap.call("xtk:session", "Logon", "<a>admin</a><b>secret</b>")
    assert by_position.fault is None
    bad = await soap.call("xtk:session", "Logon", "<login>admin</login><password>nope</password>")
    assert bad.status == 200
    assert bad.fault is not None and bad.fault.startswith("XSV-350022 ")
    assert b"<faultcode>SOAP-ENV:Client</faultcode>" in bad.body


async def test_ingest_ingest_ext_and_rows(soap: Any) -> None:
    session, security = await soap.logon()
    reply = await soap.call("xtk:persist|xtk:session", "Ingest", soap.doc(RECORD), session=session, security=security)
    assert reply.fault is None, reply.body
    uuid = reply.output("pstrSUuids").text
    assert re.fullmatch(r"[0-9a-f-]{36}", uuid)
    assert b'<IngestResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" ' \
           b'xmlns="urn:wpp:default">' in reply.body  # Campaign's answer, whatever the URN called
    keyed = await soap.call("xtk:session", "Ingest", soap.doc(
        '<sampleTableStg _key="@id" id="ABDCD321" testcol1="x" testcol2="y" xtkschema="dem:sampleTableStg"/>',
        "domDoc"), session=session, security=security)
    assert keyed.fault is None, keyed.body
    assert b'<pstrSUuids xsi:type="xsd:string"/>' in keyed.body
    ext = await soap.call("xtk:session", "IngestExt", soap.doc(
        '<sampleTable xtkschema="dem:sampleTable" _key="@id" id="ABDCD321" testcol1="z"/>'),
        session=session, security=security)
    assert ext.fault is None
    assert b"<IngestExtResponse SOAP-ENV:encodingStyle=" in ext.body
    gone = await soap.call("xtk:session", "IngestExt", soap.doc(
        '<sampleTable xtkschema="dem:sampleTable" _key="@id" _operation="delete" id="ABDCD321"/>'),
        session=session, security=security)
    assert gone.fault is None
    rows = soap.rows()
    assert rows == [("insert", uuid, "a", "b"), ("insert", "ABDCD321", "x", "y"),
                    ("insertOrUpdate", "ABDCD321", "z", None), ("delete", "ABDCD321", None, None)]


async def test_tokens_from_headers_cookie_and_soap_header(soap: Any) -> None:
    session, security = await soap.logon()
    by_header = await soap.call("xtk:session", "GetServerTime", headers={"X-Session-Token": session,
                                                                         "X-Security-Token": security})
    assert b"<ptmServerTime xsi:type='xsd:dateTime'>" in by_header.body
    by_cookie = await soap.call("xtk:session", "GetOption", "<name>Foo</name>",
                                headers={"Cookie": f"__sessiontoken={session}", "X-Security-Token": security})
    assert b"<pstrValue xsi:type='xsd:string'/>" in by_cookie.body
    assert b"<pbyteType xsi:type='xsd:byte'>0</pbyteType>" in by_cookie.body
    body = soap.envelope("xtk:session", "GetServerTime", "").replace(
        b"<SOAP-ENV:Header/>", f"<SOAP-ENV:Header><Cookie>__sessiontoken={session}</Cookie>"
        f"<X-Security-Token>{security}</X-Security-Token></SOAP-ENV:Header>".encode())
    in_header = await soap.post(body)
    assert in_header.fault is None


async def test_logoff_revokes(soap: Any) -> None:
    session, security = await soap.logon()
    off = await soap.call("xtk:session", "Logoff", session=session, security=security)
    assert b"<LogoffResponse xmlns='urn:xtk:session'" in off.body
    after = await soap.call("xtk:session", "GetServerTime", session=session, security=security)
    assert after.fault is not None and after.fault.startswith("XSV-350008 ")


async def test_schema_descriptions(soap: Any) -> None:
    session, security = await soap.logon()

    async def entity(pk: str) -> Any:
        return await soap.call("xtk:persist", "GetEntityIfMoreRecent",
                               f'<pk xsi:type="xsd:string">{pk}</pk><md5 xsi:type="xsd:string"/>'
                               '<mustExist xsi:type="xsd:boolean">false</mustExist>',
                               session=session, security=security)

    session_schema = (await entity("xtk:schema|xtk:session")).output("pdomDoc")[0]
    assert (session_schema.get("namespace"), session_schema.get("name")) == ("xtk", "session")
    assert session_schema.get("implements") == "xtk:persist"
    persist = next(el for el in session_schema if el.tag.endswith("interface"))
    assert persist.get("name") == "persist"
    names = {m.get("name") for m in persist.iter() if m.tag.endswith("method")}
    assert {"Ingest", "IngestExt", "Write", "WriteCollection", "GetEntityIfMoreRecent"} <= names
    for schema_id in ("dem:sampleTable", "dem:sampleTableStg"):
        found = (await entity(f"xtk:schema|{schema_id}")).output("pdomDoc")[0]
        assert f"{found.get('namespace')}:{found.get('name')}" == schema_id
    missing = await entity("xtk:schema|nms:nothere")
    assert b"<pdomDoc xsi:type='ns:Element'/>" in missing.body


async def test_unknown_method_and_service(soap: Any) -> None:
    reply = await soap.call("xtk:session", "Frobnicate")
    assert reply.fault == "SOP-330006 The method 'Frobnicate' is not defined in SOAP service 'xtk:session'."
    other = await soap.call("nms:nothing", "Logon")
    assert other.fault is not None and other.fault.startswith("SOP-330006 ")


async def test_refused_ingest_fault_carries_both_codes(soap: Any) -> None:
    session, security = await soap.logon()
    reply = await soap.call("xtk:session", "Ingest", soap.doc('<sampleTable xtkschema="dem:sampleTable" nope="1"/>'),
                            session=session, security=security)
    assert reply.status == 200
    assert reply.fault is not None
    assert reply.fault.startswith("SOP-330011 Error while executing the method 'Ingest' of service 'xtk:session'. "
                                  "FRY-100005 ")
    # The message shows once in the SDK's error (faultstring. detail): detail carries ferry's code alone.
    assert reply.root.findtext(".//detail") == "FRY-100005"
    assert soap.rows() == []


async def test_operator_rights(soap: Any) -> None:
    session, security = await soap.logon("ann", "pw")
    refused = await soap.call("xtk:session", "Ingest", soap.doc(RECORD), session=session, security=security)
    assert refused.fault is not None and "FRY-600003" in refused.fault
    session, security = await soap.logon("bob", "pw")
    allowed = await soap.call("xtk:session", "Ingest", soap.doc(RECORD), session=session, security=security)
    assert allowed.fault is None
    assert len(soap.rows()) == 1


async def test_wsdl_and_health(soap: Any) -> None:
    wsdl = await soap.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "xtk:session"})
    assert wsdl.status_code == 200 and b'targetNamespace="urn:xtk:session"' in wsdl.content
    assert (await soap.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "nms:x"})).status_code == 404
    test = await soap.client.get("/r/test")
    assert test.text.startswith("<redir status='OK' ")
    assert (await soap.client.get("/nl/jsp/ping.jsp")).status_code == 401
    session, security = await soap.logon()
    ping = await soap.client.get("/nl/jsp/ping.jsp", headers={"X-Session-Token": session,
                                                              "X-Security-Token": security})
    assert ping.status_code == 200 and ping.text.startswith("OK\n")
    health = await soap.client.get("/healthz")
    assert health.json()["status"] == "ok"


async def test_double_slash_path(soap: Any) -> None:
    body = soap.envelope("xtk:session", "Logon", "<login>admin</login><password>secret</password>")
    reply = await soap.client.post("http://ferry.test//nl/jsp/soaprouter.jsp", content=body)
    assert b"<pstrSessionToken" in reply.content


async def test_a_session_logged_off_elsewhere_is_refused_by_ingest_though_cached(soap: Any) -> None:
    session, security = await soap.logon()
    assert (await soap.call("xtk:session", "Ingest", soap.doc(RECORD), session=session, security=security)).fault \
        is None  # the session is now in this server's cache
    staged = soap.rows()
    confirms = ConfirmQueries(soap.runtime.auth.revocations)
    ok = await soap.call("xtk:session", "Ingest", soap.doc(RECORD), session=session, security=security)
    assert ok.fault is None and confirms.count == 0  # confirmed by the write that staged it, no query of its own
    staged = soap.rows()
    # Another server's Logoff: a row in staging, nothing in this server's cache.
    with psycopg.connect(soap.db_url, autocommit=True) as conn:
        conn.execute("UPDATE ferry.sessions SET revoked_at = now()")
    bad = '<sampleTable xtkschema="dem:sampleTable" testcol1="a" nope="1"/>'
    keyed = RECORD.replace("<sampleTable ", '<sampleTable _key="@id" ')
    for method, record in (("Ingest", RECORD), ("IngestExt", keyed), ("Ingest", bad),
                           ("Ingest", '<nothing xtkschema="nms:nothing"/>')):
        refused = await soap.call("xtk:session", method, soap.doc(record), session=session, security=security)
        assert refused.fault is not None and refused.fault.startswith("XSV-350008 "), refused.body
    assert soap.rows() == staged
