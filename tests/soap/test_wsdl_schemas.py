"""`/nl/jsp/schemawsdl.jsp?schema=ns:name` for services and for every schema ferry knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zeep
from lxml import etree

pytestmark = pytest.mark.anyio
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"


async def operations(soap: Any, schema: str) -> tuple[int, set[str], str]:
    reply = await soap.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": schema})
    if reply.status_code != 200:
        return reply.status_code, set(), ""
    root = etree.fromstring(reply.content)
    return 200, {op.get("name") for op in root.iter(f"{WSDL}operation")}, root.get("targetNamespace") or ""


async def test_services_and_data_schemas_have_a_wsdl(soap: Any) -> None:
    assert await operations(soap, "nms:subscription") == (200, {"Subscribe", "Unsubscribe"}, "urn:nms:subscription")
    status, ops, urn = await operations(soap, "nms:recipient")
    assert status == 200 and ops == {"Ingest", "IngestExt", "Write", "WriteCollection"}
    assert urn == "urn:xtk:session"
    assert (await operations(soap, "dem:sampleTableStg"))[0] == 200
    assert (await operations(soap, "nms:nothere"))[0] == 404


async def test_a_data_schema_wsdl_drives_ingest_through_zeep(soap: Any, tmp_path: Path) -> None:
    reply = await soap.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "dem:sampleTable"})
    path = tmp_path / "sample.wsdl"
    path.write_bytes(reply.content)
    client = zeep.Client(str(path))
    record = etree.fromstring('<sampleTable xtkschema="dem:sampleTable" testcol1="via zeep"/>')
    body = etree.tostring(client.create_message(client.service, "Ingest", sessiontoken="",
                                                domDoc={"_value_1": [record]}))
    session, security = await soap.logon()
    answer = await soap.post(body, {"X-Session-Token": session, "X-Security-Token": security})
    assert answer.fault is None, answer.body
    assert [row[2] for row in soap.rows()] == ["via zeep"]
