"""Every schema with a warehouse table is queryable (staged, subscription, service, history), with the same rights;
a schema without one is refused with FRY-700008 (SOAP and REST)."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.subscriptions import services

pytestmark = pytest.mark.anyio


async def _subscribe(compat: Any) -> None:
    services.add(compat.runtime.db.pool, "news", label="News")
    staged = await compat.post("/api/v1/services/news/subscribe", json={"recipient": {"email": "ann@x.com"}})
    assert staged.status_code == 202, staged.text
    synced = await compat.post("/api/v1/sync/nms:subscription", params={"wait": "true"})
    assert synced.json()["runs"][0]["state"] == "succeeded", synced.text


async def test_subscription_service_and_history_are_queryable(compat: Any) -> None:
    await _subscribe(compat)
    history = await compat.query('<queryDef schema="nms:subHisto" operation="select"><select>'
                                 '<node expr="@serviceName"/><node expr="@action"/><node expr="@origin"/></select>'
                                 "</queryDef>")
    assert history.fault is None, history.body
    assert [dict(row.attrib) for row in history.result()] == [{"serviceName": "news", "action": "1",
                                                               "origin": "api"}]
    service = await compat.query('<queryDef schema="nms:service" operation="get"><select><node expr="@label"/>'
                                 "</select><where><condition expr=\"@name = 'news'\"/></where></queryDef>")
    assert service.fault is None and dict(service.result().attrib) == {"label": "News"}, service.body
    count = await compat.query('<queryDef schema="nms:subscription" operation="count"/>')
    assert count.fault is None and count.result().get("count") == "1", count.body
    rest = await compat.get("/api/v1/data/nms/subHisto", fields="serviceName,action")
    assert rest.status_code == 200, rest.text
    assert rest.json()["rows"] == [{"serviceName": "news", "action": 1}]


async def test_same_rights_on_every_table(compat: Any) -> None:
    # ann holds a right on nms:recipient only: the history table is not hers to read.
    refused = await compat.query('<queryDef schema="nms:subHisto" operation="count"/>', login="ann")
    assert refused.fault is not None and "FRY-400013" in refused.fault
    rest = await compat.get("/api/v1/data/nms/service", login="ann")
    assert rest.status_code == 403 and rest.json()["error"]["code"] == "FRY-400013"


async def test_a_schema_without_table_is_refused_clearly(compat: Any) -> None:
    for schema_id, why in (("xtk:session", "service schema"), ("nms:nothere", "not a schema ferry knows")):
        reply = await compat.query(f'<queryDef schema="{schema_id}" operation="count"/>')
        assert reply.fault is not None and "FRY-700008" in reply.fault and why in reply.fault, reply.fault
        assert schema_id in reply.fault
    rest = await compat.get("/api/v1/data/xtk/queryDef")
    assert rest.status_code == 404 and rest.json()["error"]["code"] == "FRY-700008"
