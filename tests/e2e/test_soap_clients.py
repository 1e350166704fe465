"""A real `ferry serve` driven by outside SOAP clients: Adobe's raw envelopes, zeep from the WSDL, the npm SDK."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.transports import Transport

pytestmark = pytest.mark.e2e

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Adobe's documented requests (campaign-ffda.md §2.3 and §5), tokens filled in.
ADOBE_LOGON = """<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:xtk:session">
  <soapenv:Header/>
  <soapenv:Body>
    <urn:Logon>
      <urn:sessiontoken/>
      <urn:strLogin>admin</urn:strLogin>
      <urn:strPassword>secret</urn:strPassword>
      <urn:elemParameters/>
    </urn:Logon>
  </soapenv:Body>
</soapenv:Envelope>"""

ADOBE_INGEST = """<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:xtk:session">
  <soapenv:Header/>
  <soapenv:Body>
    <urn:{method}>
      <urn:sessiontoken>{token}</urn:sessiontoken>
      <urn:domDoc>
        {record}
      </urn:domDoc>
    </urn:{method}>
  </soapenv:Body>
</soapenv:Envelope>"""

SAMPLE = ('<sampleTableStg _key="@id" id="ABDCD321" testcol1="Test value 1" testcol2="Test value 2" '
          'xtkschema="dem:sampleTableStg"/>')


def _post(server: Any, body: str, action: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/nl/jsp/soaprouter.jsp", content=body.encode(),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action, **headers}, timeout=10)


def test_adobe_documented_envelopes(server: Any) -> None:
    before = len(server.rows())
    logon = _post(server, ADOBE_LOGON, "xtk:session#Logon")
    assert logon.status_code == 200
    assert logon.content.startswith(b"<?xml")
    session = re.search(rb"<pstrSessionToken xsi:type='xsd:string'>([^<]+)<", logon.content)
    security = re.search(rb"<pstrSecurityToken xsi:type='xsd:string'>([^<]+)<", logon.content)
    assert session and security
    token, sec = session.group(1).decode(), security.group(1).decode()

    ingest = _post(server, ADOBE_INGEST.format(method="Ingest", token=token, record=SAMPLE), "xtk:session#Ingest",
                   **{"X-Security-Token": sec})
    assert b'<IngestResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" ' \
           b'xmlns="urn:wpp:default">' in ingest.content, ingest.text
    assert b'<pstrSUuids xsi:type="xsd:string"/>' in ingest.content
    assert server.rows()[before:] == [("insert", "ABDCD321", "Test value 1", "Test value 2")]

    update = SAMPLE.replace('testcol1="Test value 1" ', "").replace("Test value 2", "Changed")
    ext = _post(server, ADOBE_INGEST.format(method="IngestExt", token=token, record=update), "xtk:session#IngestExt",
                Cookie=f"__sessiontoken={token}", **{"X-Security-Token": sec})
    assert b'<IngestExtResponse SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" ' \
           b'xmlns="urn:wpp:default"/>' in ext.content, ext.text
    assert server.rows()[before + 1:] == [("insertOrUpdate", "ABDCD321", None, "Changed")]

    fresh = '<sampleTableStg testcol1="no key" xtkschema="dem:sampleTableStg"/>'
    new = _post(server, ADOBE_INGEST.format(method="Ingest", token=token, record=fresh), "xtk:session#Ingest",
                **{"X-Security-Token": sec})
    found = re.search(rb'<pstrSUuids xsi:type="xsd:string">([^<]+)</pstrSUuids>', new.content)
    assert found and UUID.match(found.group(1).decode())
    assert server.rows()[-1] == ("insert", found.group(1).decode(), "no key", None)


def test_zeep_from_wsdl(server: Any) -> None:
    session = requests.Session()
    client = Client(f"{server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:session", transport=Transport(session=session))
    logon = client.service.Logon(sessiontoken="", strLogin="admin", strPassword="secret")
    assert logon.pstrSessionToken and logon.pstrSecurityToken
    info = logon.pSessionInfo._value_1[0]
    assert etree.QName(info).localname == "sessionInfo"
    session.headers["X-Security-Token"] = logon.pstrSecurityToken
    token = logon.pstrSessionToken

    before = len(server.rows())
    record = etree.fromstring('<sampleTable xtkschema="dem:sampleTable" testcol1="zeep" testcol2="one"/>')
    uuid = client.service.Ingest(sessiontoken=token, domDoc={"_value_1": [record]})
    assert isinstance(uuid, str) and UUID.match(uuid)
    assert server.rows()[before:] == [("insert", uuid, "zeep", "one")]

    keyed = etree.fromstring('<sampleTable xtkschema="dem:sampleTable" _key="@id" id="ZEEP-1" testcol1="k"/>')
    assert client.service.Ingest(sessiontoken=token, domDoc={"_value_1": [keyed]}) in ("", None)
    change = etree.fromstring('<sampleTable xtkschema="dem:sampleTable" _key="@id" id="ZEEP-1" testcol2="two"/>')
    assert client.service.IngestExt(sessiontoken=token, domDoc={"_value_1": [change]}) is None
    assert server.rows()[before + 1:] == [("insert", "ZEEP-1", "k", None), ("insertOrUpdate", "ZEEP-1", None, "two")]
    assert client.service.GetServerTime(sessiontoken=token) is not None

    client.service.Logoff(sessiontoken=token)
    after = client.service.Ingest
    with pytest.raises(Exception, match="XSV-350008"):
        after(sessiontoken=token, domDoc={"_value_1": [record]})


def test_adobe_js_sdk(server: Any, node_sdk: Path) -> None:
    process = subprocess.Popen(["node", str(node_sdk / "sdk_scenario.js")], cwd=node_sdk, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ACC_URL": server.url})
    assert process.stdin is not None and process.stdout is not None
    start = len(server.rows())
    expected_steps = ["logon", "health", "ingest", "ingestKey", "ingestExtUpdate", "ingestExtDelete",
                      "schemasAndFault", "logoff"]
    seen: list[str] = []
    try:
        for expected in expected_steps:
            line = process.stdout.readline()
            assert line, f"the SDK script stopped early: {process.stderr.read() if process.stderr else ''}"
            event = json.loads(line)
            assert event["step"] == expected, event
            seen.append(expected)
            rows = server.rows()[start:]
            if expected == "ingest":
                assert UUID.match(event["value"])
                assert rows == [("insert", event["value"], "sdk-a", "one")]
                first = rows[0]
            elif expected == "ingestKey":
                assert event["value"] == ""
                assert rows == [first, ("insert", "SDK-K1", "sdk-b", None)]
            elif expected == "ingestExtUpdate":
                assert event["value"] is None
                assert rows[2:] == [("insertOrUpdate", "SDK-K1", None, "two")]
            elif expected == "ingestExtDelete":
                assert rows[3:] == [("delete", "SDK-K1", None, None)]
            elif expected in ("schemasAndFault", "logoff"):
                assert len(rows) == 4  # the refused ingest staged nothing
            process.stdin.write("next\n")
            process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert seen == expected_steps
