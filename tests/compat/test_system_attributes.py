"""Campaign's `@created` / `@lastModified` on the warehouse tables: queryable (SOAP and REST), described by
getSchema, set by the sync (insert: both, update: lastModified) and by Write, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ferry.subscriptions import services

pytestmark = pytest.mark.anyio
STAMPS = '<node expr="@email"/><node expr="@created"/><node expr="@lastModified"/>'


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _stamps(compat: Any, email: str) -> tuple[dt.datetime, dt.datetime]:
    reply = await compat.query(f'<queryDef schema="nms:recipient" operation="get"><select>{STAMPS}</select>'
                               f"<where><condition expr=\"@email = '{email}'\"/></where></queryDef>")
    assert reply.fault is None, reply.body
    row = reply.result()
    return _when(row.get("created")), _when(row.get("lastModified"))


async def _sync(compat: Any, schema_id: str = "nms:recipient") -> None:
    synced = await compat.post(f"/api/v1/sync/{schema_id}", params={"wait": "true"})
    assert synced.json()["runs"][0]["state"] == "succeeded", synced.text


async def _system_attributes(compat: Any) -> None:
    created, modified = await _stamps(compat, "ann@x.com")
    assert created == modified  # an insert sets both
    staged = await compat.post("/api/v1/ingest-ext/nms:recipient", json=[{"_key": "@email", "email": "ann@x.com",
                                                                           "lastName": "Later"}])
    assert staged.status_code == 200, staged.text
    await _sync(compat)
    again, later = await _stamps(compat, "ann@x.com")
    assert again == created and later > modified  # an update sets lastModified only
    # Write: insert sets both, update moves lastModified.
    write = compat.doc('<recipient xtkschema="nms:recipient" _operation="insert" email="w@x.com"/>')
    assert (await compat.soap("xtk:session", "Write", write)).fault is None
    w_created, w_modified = await _stamps(compat, "w@x.com")
    assert w_created == w_modified and w_created >= later
    update = compat.doc('<recipient xtkschema="nms:recipient" email="w@x.com" firstName="W"/>')
    assert (await compat.soap("xtk:session", "Write", update)).fault is None
    assert (await _stamps(compat, "w@x.com"))[1] > w_modified
    # Filter and order on them; REST fields.
    recent = await compat.query('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                                "</select><where><condition expr=\"@lastModified > @created\"/></where>"
                                '<orderBy><node expr="@created" sortDesc="true"/></orderBy></queryDef>')
    assert [row.get("email") for row in recent.result()] == ["w@x.com", "ann@x.com"], recent.body
    rest = await compat.get("/api/v1/data/nms/recipient", fields="email,created,lastModified",
                            filter="@email = 'w@x.com'")
    assert rest.status_code == 200, rest.text
    assert set(rest.json()["rows"][0]) == {"email", "created", "lastModified"}


async def test_recipient_system_attributes_duckdb(compat: Any) -> None:
    await _system_attributes(compat)


async def test_recipient_system_attributes_postgres(compat_pg: Any) -> None:
    await _system_attributes(compat_pg)


async def test_subscription_created_is_queryable_and_described(compat: Any) -> None:
    services.add(compat.runtime.db.pool, "news")
    staged = await compat.post("/api/v1/services/news/subscribe", json={"recipient": {"email": "bob@x.com"}})
    assert staged.status_code == 202, staged.text
    await _sync(compat, "nms:subscription")
    reply = await compat.query('<queryDef schema="nms:subscription" operation="get"><select>'
                               '<node expr="@serviceName"/><node expr="@created"/><node expr="@lastModified"/>'
                               "</select></queryDef>")
    assert reply.fault is None, reply.body
    row = reply.result()
    assert row.get("serviceName") == "news" and _when(row.get("created")) <= _when(row.get("lastModified"))
    for schema_id in ("nms:recipient", "nms:subscription"):
        described = await compat.soap("xtk:persist", "GetEntityIfMoreRecent",
                                      f'<pk xsi:type="xsd:string">xtk:schema|{schema_id}</pk>')
        attributes = {node.get("name"): node.get("type") for node in described.result("pdomDoc").iter("{*}attribute")}
        assert attributes["created"] == attributes["lastModified"] == "datetime", described.body
