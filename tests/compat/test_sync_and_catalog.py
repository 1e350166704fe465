"""StartReplicateStagingData (SOAP), the REST sync / workflows endpoints, sync metrics, and the schema catalog."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from lxml import etree

from ferry.soap.catalog import REPLICATION_STRATEGY, XTK_QUERYDEF

pytestmark = pytest.mark.anyio


async def _ingest(compat: Any, *emails: str, login: str = "admin") -> None:
    reply = await compat.post("/api/v1/ingest/nms:recipient", login=login, json=[{"email": e} for e in emails])
    assert reply.status_code == 200, reply.text


async def test_start_replicate_staging_data(compat: Any) -> None:
    await _ingest(compat, "new@x.com")
    reply = await compat.soap("nms:replicationStrategy", "StartReplicateStagingData",
                              '<strSchema xsi:type="xsd:string">nms:recipientStg</strSchema>', login="ann")
    assert reply.fault is None, reply.body
    assert etree.QName(reply.root[0][0]).localname == "StartReplicateStagingDataResponse"
    assert "new@x.com" in {row["email"] for row in compat.warehouse_rows()}  # synced before the reply
    refused = await compat.soap("nms:replicationStrategy", "StartReplicateStagingData",
                                '<strSchema xsi:type="xsd:string">nms:recipient</strSchema>', login="dan")
    assert refused.fault is not None and "FRY-600003" in refused.fault
    unknown = await compat.soap("nms:replicationStrategy", "StartReplicateStagingData",
                                '<strSchema xsi:type="xsd:string">nms:nothere</strSchema>')
    assert unknown.fault is not None and "FRY-500005" in unknown.fault
    empty = await compat.soap("nms:replicationStrategy", "StartReplicateStagingData")
    assert empty.fault is not None and "FRY-400002" in empty.fault


async def test_rest_sync_and_workflows(compat: Any) -> None:
    await _ingest(compat, "r1@x.com", "r2@x.com", login="ann")
    started = await compat.post("/api/v1/sync/nms:recipient", login="ann", params={"wait": "true"})
    assert started.status_code == 200, started.text
    run = started.json()["runs"][0]
    assert (run["schema"], run["state"], run["rows"]["inserted"]) == ("nms:recipient", "succeeded", 2)
    queued = await compat.post("/api/v1/sync")
    assert queued.status_code == 200 and queued.json()["runs"][0]["state"] == "queued"
    listed = await compat.get("/api/v1/workflows", schema="nms:recipient")
    assert listed.status_code == 200
    assert run["id"] in [item["id"] for item in listed.json()["runs"]]
    one = await compat.get(f"/api/v1/workflows/{run['id']}")
    assert one.status_code == 200 and one.json()["rows"]["inserted"] == 2
    assert (await compat.get(f"/api/v1/workflows/{uuid.uuid4()}")).status_code == 404
    # Rights: a schema's ingest right starts its sync and reads its runs (issue 15); the rest is admin.
    assert (await compat.post("/api/v1/sync", login="ann")).status_code == 403
    own = await compat.get("/api/v1/workflows", login="ann")
    assert own.status_code == 200 and {item["schema"] for item in own.json()["runs"]} == {"nms:recipient"}
    assert (await compat.get("/api/v1/workflows", login="dan")).json()["runs"] == []
    assert (await compat.post("/api/v1/sync/nms:recipient", login="dan")).status_code == 403
    assert 400 <= (await compat.post("/api/v1/sync/nms:nothere")).status_code < 500
    metrics = (await compat.client.get("/metrics")).text
    assert 'ferry_sync_last_success_timestamp_seconds{schema="nms:recipient"}' in metrics
    assert 'ferry_sync_rows_total{outcome="inserted",schema="nms:recipient"} 5.0' in metrics
    assert 'ferry_sync_runs_total{schema="nms:recipient",state="succeeded"}' in metrics


async def _entity(compat: Any, schema_id: str) -> Any:
    reply = await compat.soap("xtk:persist", "GetEntityIfMoreRecent",
                              f'<pk xsi:type="xsd:string">xtk:schema|{schema_id}</pk><md5 xsi:type="xsd:string"/>'
                              '<mustExist xsi:type="xsd:boolean">false</mustExist>')
    assert reply.fault is None, reply.body
    found = reply.result("pdomDoc")
    return None if found is None else _strip(found)


def _strip(element: Any) -> Any:
    """The element without namespaces (the response's default namespace, which SimpleJson ignores) or text."""
    copy = etree.Element(etree.QName(element).localname, dict(element.attrib))
    copy.extend(_strip(child) for child in element if isinstance(child.tag, str))
    return copy


async def test_catalog(compat: Any) -> None:
    query_def = await _entity(compat, "xtk:queryDef")
    assert etree.tostring(query_def) == etree.tostring(_strip(etree.fromstring(XTK_QUERYDEF)))
    method = query_def.find("methods/method")
    assert (method.get("name"), method.get("const"), method.get("static")) == ("ExecuteQuery", "true", None)
    replication = await _entity(compat, "nms:replicationStrategy")
    assert etree.tostring(replication) == etree.tostring(_strip(etree.fromstring(REPLICATION_STRATEGY)))
    session = await _entity(compat, "xtk:session")
    assert {m.get("name") for m in session.iterfind("interface/method")} >= {"Write", "WriteCollection", "Ingest"}
    recipient = await _entity(compat, "nms:recipient")
    assert (recipient.get("namespace"), recipient.get("name")) == ("nms", "recipient")
    email = recipient.find("element/attribute[@name='email']")
    assert (email.get("type"), email.get("length"), email.get("label"), email.get("sqlname")) == \
        ("string", "128", "Email", "sEmail")
    assert [k.get("xpath") for k in recipient.find("element/key[@name='email']")] == ["@email"]
    staging = await _entity(compat, "nms:recipientStg")
    assert staging.get("name") == "recipientStg"
    assert await _entity(compat, "nms:nothere") is None
    assert await _entity(compat, "xtk:nothere") is None
