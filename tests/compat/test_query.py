"""ExecuteQuery over SOAP and `GET /api/v1/data/{ns}/{name}` on the synced warehouse: shapes, paging, rights."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

pytestmark = pytest.mark.anyio


def _rows(element: Any) -> list[dict[str, str]]:
    return [dict(child.attrib) for child in element]


def _shape(element: Any) -> tuple[str, dict[str, str], list[Any]]:
    """Local name, attributes, children (the response's default namespace aside, which SimpleJson ignores)."""
    return etree.QName(element).localname, dict(element.attrib), [_shape(child) for child in element]


async def test_select_shapes_and_paging(compat: Any) -> None:
    reply = await compat.query('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                               '<node expr="Upper(@firstName)" alias="@up"/></select>'
                               '<orderBy><node expr="@email" sortDesc="true"/></orderBy></queryDef>')
    assert reply.fault is None, reply.body
    result = reply.result()
    assert etree.QName(result).localname == "recipient-collection"
    assert _rows(result) == [{"email": "cid@y.org", "up": "CID"}, {"email": "bob@x.com", "up": "BOB"},
                             {"email": "ann@x.com", "up": "ANN"}]
    page = await compat.query('<queryDef schema="nms:recipient" operation="select" lineCount="1" startLine="1">'
                              '<select><node expr="@email"/></select><orderBy><node expr="@email"/></orderBy>'
                              '</queryDef>')
    assert _rows(page.result()) == [{"email": "bob@x.com"}]
    empty = await compat.query('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                               "</select><where><condition expr=\"@email = 'nobody'\"/></where></queryDef>")
    assert _shape(empty.result()) == ("recipient-collection", {}, [])


async def test_where_conditions_and_count(compat: Any) -> None:
    count = await compat.query('<queryDef schema="nms:recipient" operation="count"><where>'
                               "<condition expr=\"@email like '%@x.com'\" boolOperator=\"OR\"/>"
                               '<condition expr="@lastName IS NULL"/></where></queryDef>')
    assert count.result().attrib == {"count": "3"}
    quoted = await compat.query('<queryDef schema="nms:recipient" operation="get"><select><node expr="@email"/>'
                                "</select><where><condition expr=\"@lastName = 'O\\'Brien'\"/></where></queryDef>")
    assert quoted.result().attrib == {"email": "bob@x.com"}
    inlist = await compat.query('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                                "</select><where><condition expr=\"@firstName IN ('Ann', 'Cid')\"/></where>"
                                '<orderBy><node expr="@email"/></orderBy></queryDef>')
    assert _rows(inlist.result()) == [{"email": "ann@x.com"}, {"email": "cid@y.org"}]


async def test_get_not_found_and_get_if_exists(compat: Any) -> None:
    missing = await compat.query('<queryDef schema="nms:recipient" operation="get"><select><node expr="@email"/>'
                                 "</select><where><condition expr=\"@email = 'zz'\"/></where></queryDef>")
    assert missing.fault is not None and missing.fault.startswith("XSV-350123 ")
    maybe = await compat.query('<queryDef schema="nms:recipient" operation="getIfExists"><select>'
                               "<node expr=\"@email\"/></select><where><condition expr=\"@email = 'zz'\"/></where>"
                               "</queryDef>")
    assert _shape(maybe.result()) == ("recipient", {}, [])


async def test_query_rights(compat: Any) -> None:
    query = '<queryDef schema="nms:recipient" operation="count"/>'
    assert (await compat.query(query, login="ann")).result().get("count") == "3"
    refused = await compat.query(query, login="dan")
    assert refused.fault is not None and "FRY-400013" in refused.fault
    unknown = await compat.query('<queryDef schema="nms:nothere" operation="count"/>')
    assert unknown.fault is not None and "FRY-700008" in unknown.fault
    rest = await compat.get("/api/v1/data/nms/recipient", login="dan")
    assert rest.status_code == 403 and rest.json()["error"]["code"] == "FRY-400013"
    assert (await compat.get("/api/v1/data/nms/nothere")).status_code == 404


async def test_rest_read_api(compat: Any) -> None:
    reply = await compat.get("/api/v1/data/nms/recipient", login="ann", fields="email,firstName",
                             filter="@email like '%@x.com'", order="-email", limit=50, offset=0)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"schema": "nms:recipient", "count": 2,
                            "rows": [{"email": "bob@x.com", "firstName": "Bob"},
                                     {"email": "ann@x.com", "firstName": "Ann"}]}
    paged = await compat.get("/api/v1/data/nms/recipient", fields="email", order="email", limit=1, offset=2)
    assert paged.json()["rows"] == [{"email": "cid@y.org"}]
    everything = await compat.get("/api/v1/data/nms/recipientStg", filter="@gender = 2")
    assert everything.json()["count"] == 1
    assert everything.json()["rows"][0]["email"] == "cid@y.org" and "lastModified" not in everything.json()["rows"][0]
    spec = (await compat.client.get("/openapi.json")).json()
    assert "/api/v1/data/{ns}/{name}" in spec["paths"]


async def test_postgres_warehouse(compat_pg: Any) -> None:
    """Queries (psycopg placeholders) and Write (one ADBC transaction) on a PostgreSQL warehouse."""
    reply = await compat_pg.query('<queryDef schema="nms:recipient" operation="select"><select>'
                                  '<node expr="Lower(@firstName)" alias="@low"/></select><where>'
                                  "<condition expr=\"@email like '%@x.com'\"/></where>"
                                  '<orderBy><node expr="@email"/></orderBy></queryDef>')
    assert reply.fault is None, reply.body
    assert _rows(reply.result()) == [{"low": "ann"}, {"low": "bob"}]
    write = await compat_pg.soap("xtk:session", "Write", compat_pg.doc(
        '<recipient xtkschema="nms:recipient" _operation="insert" email="ann@x.com"/>'))
    assert write.fault is not None and "ODB-240000" in write.fault
    ok = await compat_pg.soap("xtk:session", "Write", compat_pg.doc(
        '<recipient xtkschema="nms:recipient" email="zed@x.com" firstName="Zed"/>'))
    assert ok.fault is None, ok.body
    rest = await compat_pg.get("/api/v1/data/nms/recipient", fields="email", filter="@firstName = 'Zed'")
    assert rest.json()["rows"] == [{"email": "zed@x.com"}]
