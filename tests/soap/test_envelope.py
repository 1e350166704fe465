"""Envelope parsing, response and fault writing, schema descriptions and the WSDL, without a server."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from ferry.errors import FerryError
from ferry.schema.model import Attribute, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import AttrType
from ferry.soap import parse_request, schemas, writer, wsdl

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _request(inner: str, header: str = "", env: str = ENV) -> bytes:
    return (f'<e:Envelope xmlns:e="{env}"><e:Header>{header}</e:Header><e:Body>{inner}</e:Body></e:Envelope>'
            ).encode()


def test_urn_with_pipe_and_parameters_by_name_or_position() -> None:
    request = parse_request(_request('<m:Ingest xmlns:m="urn:xtk:persist|xtk:session"><sessiontoken>tok</sessiontoken>'
                                     '<doc><recipient email="a"/></doc></m:Ingest>'))
    assert (request.urn, request.method, request.action) == ("xtk:persist|xtk:session", "Ingest",
                                                             "xtk:persist|xtk:session#Ingest")
    assert request.session_token == "tok"
    document = request.document(("domDoc",), 1)
    assert document is not None and document.tag == "recipient"
    assert request.text(("missing",), 5, default="none") == "none"


def test_namespaced_parameters_and_soap_header_tokens() -> None:
    request = parse_request(_request(
        '<urn:Logon xmlns:urn="urn:xtk:session"><urn:sessiontoken/><urn:strLogin>admin</urn:strLogin>'
        '<urn:strPassword>pw</urn:strPassword></urn:Logon>',
        "<Cookie>other=1; __sessiontoken=abc</Cookie><X-Security-Token>@sec</X-Security-Token>"))
    assert request.text(("login", "strLogin"), 1) == "admin"
    assert request.session_token is None
    assert (request.header_session, request.header_security) == ("abc", "@sec")


def test_soap12_envelope_is_accepted() -> None:
    request = parse_request(_request('<m:Logoff xmlns:m="urn:xtk:session"/>',
                                     env="http://www.w3.org/2003/05/soap-envelope"))
    assert request.method == "Logoff"


@pytest.mark.parametrize("body, code", [
    (b"", "FRY-400001"),
    (b"<notsoap/>", "FRY-400001"),
    (_request(""), "FRY-400001"),
    (_request("<a/><b/>"), "FRY-400001"),
    (b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body>", "FRY-100001"),
    (b"<!DOCTYPE x [<!ENTITY a 'b'>]>" + _request("<a/>"), "FRY-100001"),
])
def test_refusals(body: bytes, code: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse_request(body)
    assert caught.value.code.code == code


def test_response_and_fault_bytes() -> None:
    out = writer.response("xtk:session", "GetServerTime",
                          [writer.datetime("ptmServerTime", dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC))])
    assert out.startswith(b"<?xml version='1.0'?>\n<SOAP-ENV:Envelope xmlns:xsd=")
    assert b"<GetServerTimeResponse xmlns='urn:xtk:session' SOAP-ENV:encodingStyle=" in out
    assert b"<ptmServerTime xsi:type='xsd:dateTime'>2024-01-02T03:04:05.678Z</ptmServerTime>" in out
    assert b"<LogoffResponse xmlns='urn:xtk:session' SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/" \
           b"encoding/'/>" in writer.response("xtk:session", "Logoff")
    escaped = writer.response("xtk:session", "GetOption", [writer.string("pstrValue", "<&'>")])
    assert b"<pstrValue xsi:type='xsd:string'>&lt;&amp;'&gt;</pstrValue>" in escaped
    seed = writer.response("xtk:session", "Ingest", [writer.string("pstrSUuids", "<&'>")])
    assert b'<pstrSUuids xsi:type="xsd:string">&lt;&amp;\'&gt;</pstrSUuids>' in seed
    fault = writer.fault("XSV-350008 Session has expired", detail="d<")
    root = etree.fromstring(fault)
    node = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert node is not None
    assert node.findtext("faultcode") == "SOAP-ENV:Client"
    assert node.findtext("faultstring") == "XSV-350008 Session has expired"
    assert node.findtext("detail") == "d<"
    # Ferry's text already in faultstring: detail keeps its code only (the SDK prints faultstring. detail).
    once = etree.fromstring(writer.fault("SOP-330011 Error … FRY-100005 Record 1: bad",
                                         detail="FRY-100005 Record 1: bad"))
    assert once.findtext(f"{{{ENV}}}Body/{{{ENV}}}Fault/detail") == "FRY-100005"


def test_schema_descriptions_match_the_requested_id() -> None:
    staged = Schema(namespace="dem", name="t", auto_stg=True,
                    attributes=(Attribute(name="a", type=AttrType.STRING, length=10),),
                    source_xml='<?xml version="1.0"?><srcSchema namespace="dem" name="t"/>')
    plain = Schema(namespace="dem", name="plain")
    registry = SchemaRegistry([staged, plain])
    for schema_id in ("dem:t", "dem:tStg"):
        found = schemas.describe(registry, f"xtk:schema|{schema_id}")
        assert found is not None
        root = etree.fromstring(found)
        assert f"{root.get('namespace')}:{root.get('name')}" == schema_id
    # Every built-in and user schema is described (issue 6), staged or not; an unknown one is not.
    assert schemas.describe(registry, "xtk:schema|dem:plain") is not None
    assert schemas.describe(registry, "xtk:schema|dem:nothere") is None
    schemas.register("xtk:queryDef", '<schema namespace="xtk" name="queryDef"/>')
    assert schemas.describe(registry, "xtk:schema|xtk:queryDef") == '<schema namespace="xtk" name="queryDef"/>'
    # xtk:srcSchema gives an applied schema's source (issue 25), nothing for an unknown one.
    source = schemas.describe(registry, "xtk:srcSchema|dem:t")
    assert source is not None and etree.fromstring(source).get("name") == "t"
    assert schemas.describe(registry, "xtk:srcSchema|dem:nothere") is None
    session = etree.fromstring(schemas.describe(registry, "xtk:schema|xtk:session") or "")
    methods = session.find("methods")
    assert methods is not None
    # Campaign's GetNewIdsEx and encryption methods are described so that clients send them; ferry refuses them
    # with FRY-400030 (ferry.schema.not_served).
    assert [m.get("name") for m in methods] == ["Logon", "Logoff", "GetServerTime", "GetOption", "GetUserInfo",
                                                "GetNewIdsEx", "Encrypt", "EncryptPassword", "EncryptServerPassword",
                                                "HashPassword", "ReEncryptPassword"]


def test_wsdl_is_wellformed_and_names_the_operations() -> None:
    text = wsdl.wsdl("xtk:session", "http://h/nl/jsp/soaprouter.jsp")
    assert text is not None
    root = etree.fromstring(text.encode())
    ops = {op.get("name") for op in root.iter("{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert {"Logon", "Logoff", "Ingest", "IngestExt", "GetServerTime", "GetOption"} <= ops
    assert wsdl.wsdl("nms:recipient", "x") is None  # not a service: only with data_schema=True
