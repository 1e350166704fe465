"""The acceptance scenario through zeep, from ferry's WSDLs (xtk:session, nms:replicationStrategy, xtk:queryDef),
against a fresh `ferry serve`: every SOAP method ferry serves is called at least once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport

pytestmark = pytest.mark.e2e

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _doc(xml: str) -> dict[str, Any]:
    return {"_value_1": [etree.fromstring(xml)]}


def _result(output: Any) -> etree._Element:
    """The element a DOMDocument output carries."""
    value = output if not hasattr(output, "pdomOutput") else output.pdomOutput
    elements = [item for item in value._value_1 if isinstance(item, etree._Element)]
    assert len(elements) == 1, value
    return elements[0]


def _shape(element: etree._Element) -> tuple[str, dict[str, str], list[Any]]:
    """Local name, attributes and children: what a client sees, without the namespace declarations zeep keeps."""
    return (etree.QName(element).localname, dict(element.attrib), [_shape(child) for child in element])


def test_zeep_acceptance(launch: Any, new_database: Callable[[], str], tmp_path: Path) -> None:
    start, stop = launch
    server = start(new_database(), tmp_path / "serve", FERRY_SYNC_INTERVAL="3600")
    try:
        http = requests.Session()
        transport = Transport(session=http)
        wsdl = f"{server.url}/nl/jsp/schemawsdl.jsp?schema="
        session = Client(wsdl + "xtk:session", transport=transport).service
        replication = Client(wsdl + "nms:replicationStrategy", transport=transport).service
        query = Client(wsdl + "xtk:queryDef", transport=transport).service

        logon = session.Logon(sessiontoken="", strLogin="admin", strPassword="secret")
        http.headers["X-Security-Token"] = logon.pstrSecurityToken
        token = logon.pstrSessionToken
        assert session.GetServerTime(sessiontoken=token) is not None
        option = session.GetOption(sessiontoken=token, strName="XtkDatabaseId")
        assert (option.pstrValue, option.pbyteType) == ("ferry", 6)
        user = _result(session.GetUserInfo(sessiontoken=token))
        assert etree.QName(user).localname == "userInfo" and user.get("login") == "admin"

        u1 = session.Ingest(sessiontoken=token, domDoc=_doc(
            '<recipient xtkschema="nms:recipient" email="a@x.com" firstName="Ann"/>'))
        assert UUID.match(u1)
        assert session.Ingest(sessiontoken=token, domDoc=_doc(
            '<recipient xtkschema="nms:recipient" _key="@email" email="b@x.com" firstName="Bob"/>')) in ("", None)
        assert session.IngestExt(sessiontoken=token, domDoc=_doc(
            '<recipient xtkschema="nms:recipient" _key="@email" email="b@x.com" firstName="Bobby"/>')) is None
        session.IngestExt(sessiontoken=token, domDoc=_doc(
            '<recipient xtkschema="nms:recipient" _key="@email" _operation="delete" email="a@x.com"/>'))

        assert replication.StartReplicateStagingData(sessiontoken=token, strSchema="nms:recipientStg") is None

        def run(xml: str) -> etree._Element:
            return _result(query.ExecuteQuery(sessiontoken=token, document=_doc(xml)))

        everyone = run('<queryDef schema="nms:recipient" operation="select" xtkschema="xtk:queryDef"><select>'
                       '<node expr="@email"/><node expr="@firstName"/></select></queryDef>')
        assert _shape(everyone) == ("recipient-collection", {}, [("recipient", {"email": "b@x.com",
                                                                               "firstName": "Bobby"}, [])])
        bob = run('<queryDef schema="nms:recipient" operation="get"><select><node expr="@firstName"/></select>'
                  "<where><condition expr=\"@email = 'b@x.com'\"/></where></queryDef>")
        assert bob.attrib == {"firstName": "Bobby"}
        gone = run('<queryDef schema="nms:recipient" operation="getIfExists"><select><node expr="@email"/></select>'
                   "<where><condition expr=\"@email = 'a@x.com'\"/></where></queryDef>")
        assert _shape(gone) == ("recipient", {}, [])
        assert run('<queryDef schema="nms:recipient" operation="count"/>').get("count") == "1"

        assert session.Write(sessiontoken=token, domDoc=_doc(
            '<recipient xtkschema="nms:recipient" _operation="insert" email="c@x.com"/>')) is None
        assert session.WriteCollection(sessiontoken=token, domDoc=_doc(
            '<recipient-collection xtkschema="nms:recipient"><recipient _operation="insert" email="d@x.com"/>'
            '<recipient _operation="update" email="b@x.com" lastName="Builder"/>'
            '<recipient _operation="none" email="e@x.com"/></recipient-collection>')) is None
        rows = run('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                   '<node expr="@lastName"/></select><orderBy><node expr="@email"/></orderBy></queryDef>')
        assert [dict(r.attrib) for r in rows] == [{"email": "b@x.com", "lastName": "Builder"}, {"email": "c@x.com"},
                                                 {"email": "d@x.com"}]

        found = session.GetEntityIfMoreRecent(sessiontoken=token, pk="xtk:schema|nms:recipient", md5="",
                                              mustExist=False)
        schema = _result(found)
        assert (schema.get("namespace"), schema.get("name")) == ("nms", "recipient")
        email = schema.xpath("*[local-name()='element']/*[local-name()='attribute'][@name='email']")
        assert [node.get("sqlname") for node in email] == ["sEmail"]
        missing = session.GetEntityIfMoreRecent(sessiontoken=token, pk="xtk:schema|nms:nothere", md5="",
                                                mustExist=False)
        assert missing is None or not [i for i in (missing._value_1 or []) if isinstance(i, etree._Element)]

        with pytest.raises(Fault, match=r"^XSV-350123 "):
            run('<queryDef schema="nms:recipient" operation="get"><select><node expr="@email"/></select>'
                "<where><condition expr=\"@email = 'zz'\"/></where></queryDef>")
        with pytest.raises(Fault, match="ODB-240000"):
            session.Write(sessiontoken=token, domDoc=_doc(
                '<recipient xtkschema="nms:recipient" _operation="insert" email="c@x.com"/>'))

        session.Logoff(sessiontoken=token)
        with pytest.raises(Fault, match="XSV-350008"):
            query.ExecuteQuery(sessiontoken=token, document=_doc('<queryDef schema="nms:recipient"/>'))
    finally:
        assert stop(server) == 0, server.log.read_text()
