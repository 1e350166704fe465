"""The Ingest / IngestExt answers compared with the seed document's text (Adobe's "New Campaign v8 APIs" page,
/work/shared/reference/seed-*.txt), modulo the generated UUID: through the router, with a real staging database."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

from ferry.soap import writer

pytestmark = pytest.mark.anyio

# The three answers as the seed prints them (its code blocks, dedented).
SEED_INGEST = textwrap.dedent("""\
    <SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="urn:wpp:default" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
    <SOAP-ENV:Body>
        <IngestResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns="urn:wpp:default">
            <pstrSUuids xsi:type="xsd:string">e1e7c8b3-6f79-44da-a72d-49ed0f73db2c</pstrSUuids>
        </IngestResponse>
    </SOAP-ENV:Body>
    </SOAP-ENV:Envelope>""")  # noqa: E501
SEED_INGEST_KEY = textwrap.dedent("""\
    <SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="urn:wpp:default" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
    <SOAP-ENV:Body>
        <IngestResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns="urn:wpp:default">
            <pstrSUuids xsi:type="xsd:string"/>
        </IngestResponse>
    </SOAP-ENV:Body>
    </SOAP-ENV:Envelope>""")  # noqa: E501
SEED_INGEST_EXT = textwrap.dedent("""\
    <SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="urn:wpp:default" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
    <SOAP-ENV:Body>
        <IngestExtResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns="urn:wpp:default"/>
    </SOAP-ENV:Body>
    </SOAP-ENV:Envelope>""")  # noqa: E501
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SEED_UUID = "e1e7c8b3-6f79-44da-a72d-49ed0f73db2c"


async def test_answers_are_the_seeds_text(soap: Any) -> None:
    session, security = await soap.logon()
    # The seed's own requests: URN urn:xtk:session, parameters qualified and named domDoc.
    plain = await soap.call("xtk:session", "Ingest", soap.doc(
        '<sampleTableStg testcol1="Test Value 1 (from SOAP)" testcol2="Test Value 2 (from SOAP)" '
        'xtkschema="dem:sampleTableStg"/>', "domDoc"), session=session, security=security)
    uuids = UUID.findall(plain.body.decode())
    assert len(uuids) == 1, plain.body
    assert plain.body.decode().replace(uuids[0], SEED_UUID) == SEED_INGEST
    keyed = await soap.call("xtk:persist|xtk:session", "Ingest", soap.doc(
        '<sampleTableStg _key="@id" id="ABDCD321" testcol1="x" xtkschema="dem:sampleTableStg"/>'),
        session=session, security=security)
    assert keyed.body.decode() == SEED_INGEST_KEY
    ext = await soap.call("xtk:session", "IngestExt", soap.doc(
        '<sampleTableStg _key="@id" id="ABDCD321" testcol1="E" xtkschema="dem:sampleTableStg"/>', "domDoc"),
        session=session, security=security)
    assert ext.body.decode() == SEED_INGEST_EXT
    assert soap.rows() == [("insert", uuids[0], "Test Value 1 (from SOAP)", "Test Value 2 (from SOAP)"),
                           ("insert", "ABDCD321", "x", None), ("insertOrUpdate", "ABDCD321", "E", None)]


def test_writer_renders_the_seed_for_any_urn() -> None:
    for urn in ("xtk:session", "xtk:persist|xtk:session", "xtk:persist"):
        assert writer.response(urn, "Ingest", [writer.string("pstrSUuids", SEED_UUID)]).decode() == SEED_INGEST
        assert writer.response(urn, "Ingest", [writer.string("pstrSUuids", "")]).decode() == SEED_INGEST_KEY
        assert writer.response(urn, "IngestExt").decode() == SEED_INGEST_EXT
    # Other methods keep Campaign's usual shape (declaration, the URN as namespace).
    assert writer.response("xtk:session", "Logoff").startswith(b"<?xml version='1.0'?>\n")


@pytest.mark.parametrize("method", ["Ingest", "IngestExt"])
@pytest.mark.parametrize("value", ["", SEED_UUID, f"{SEED_UUID},{SEED_UUID}", "a<b & c>\r\n'\"", "\x00é"])
def test_the_one_output_template_writes_the_same_bytes_as_the_lines(method: str, value: str) -> None:
    for output in (writer.string("pstrSUuids", value), writer.string("other", value, "xsd:int")):
        assert writer.seed_response(method, [output]) == writer._seed_lines(method, [output])
    two = [writer.string("a", value), writer.string("b", "1")]
    assert writer.seed_response(method, two) == writer._seed_lines(method, two)
