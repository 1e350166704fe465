"""Subscribe / Unsubscribe through SOAP and REST, applied by ffdaReplicateStagingData (PostgreSQL staging, DuckDB
warehouse; a PostgreSQL warehouse at the end)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio

ANN = '<recipient _key="@email" email="ann@x.com" firstName="Ann"/>'


def _history(api: Any, email: str) -> list[tuple[Any, ...]]:
    return [(h["service"], h["action"], h["origin"]) for h in _history_json(api, email)]


def _history_json(api: Any, email: str) -> list[dict[str, Any]]:
    from ferry.subscriptions import reads

    return reads.history(api.runtime.warehouse, email=email)


async def test_subscribe_unsubscribe_subscribe_over_soap(api: Any) -> None:
    assert await api.soap("Subscribe", "news", ANN, create=True) is None
    assert await api.soap("Unsubscribe", "news", ANN) is None
    assert await api.soap("Subscribe", "news", ANN, create=False) is None
    assert [row[3] for row in api.staged()] == ["staged"] * 3  # nothing applied before the workflow runs
    run = await api.sync()
    assert run["rows"]["read"] == 3 and run["rows"]["inserted"] == 2 and run["rows"]["deleted"] == 1
    assert _history(api, "ann@x.com") == [("news", "subscribe", "soap"), ("news", "unsubscribe", "soap"),
                                          ("news", "subscribe", "soap")]
    reply = await api.get("/api/v1/services/news/subscribers")
    assert [s["email"] for s in reply.json()["subscribers"]] == ["ann@x.com"]
    created = api.wh('SELECT id, "firstName" FROM nms_recipient WHERE email = ?', ["ann@x.com"])
    first_request = api.runtime.db.pool.connection().__enter__().execute(
        "SELECT _uuid::text FROM ferry_stg.nms_subscription ORDER BY _seq LIMIT 1").fetchone()
    assert created == [(first_request[0], "Ann")]  # the recipient's id is the creating request's UUID
    reply = await api.get("/api/v1/recipients/history", email="ann@x.com")
    assert [(h["action"], h["origin"]) for h in reply.json()["history"]] == [
        ("subscribe", "soap"), ("unsubscribe", "soap"), ("subscribe", "soap")]
    assert all(h["date"] for h in reply.json()["history"])


async def test_comma_separated_services_over_rest(api: Any) -> None:
    body = {"recipient": {"email": "bob@x.com"}, "create": True}
    reply = await api.post("/api/v1/services/news, sms_alerts/subscribe", json=body)
    assert reply.status_code == 202, reply.text
    assert len(reply.json()["rows"]) == 2
    await api.sync()
    for name in ("news", "sms_alerts"):
        found = (await api.get(f"/api/v1/services/{name}/subscribers")).json()["subscribers"]
        assert [s["email"] for s in found] == ["bob@x.com"]
    expires = (await api.get("/api/v1/services/sms_alerts/subscribers")).json()["subscribers"][0]["expires"]
    assert expires is not None  # sms_alerts has a 30-day validity
    assert sorted(_history(api, "bob@x.com")) == [("news", "subscribe", "api"), ("sms_alerts", "subscribe", "api")]
    assert len(api.wh("SELECT id FROM nms_recipient WHERE email = ?", ["bob@x.com"])) == 1


async def test_create_false_unknown_recipient_is_skipped(api: Any) -> None:
    assert await api.soap("Subscribe", "news", '<recipient email="nobody@x.com"/>', create=False) is None
    reply = await api.post("/api/v1/services/news/unsubscribe", json={"recipient": {"email": "nobody@x.com"}})
    assert reply.status_code == 202
    run = await api.sync()
    assert run["rows"]["skipped"] == 2
    assert [(r[3], r[4]) for r in api.staged()] == [("skipped", "recipient not found and create=false"),
                                                    ("skipped", "recipient not found")]
    assert api.wh("SELECT count(*) FROM nms_recipient") == [(0,)]
    assert _history(api, "nobody@x.com") == []


async def test_global_opt_out(api: Any) -> None:
    assert await api.soap("Subscribe", "news", ANN, create=True) is None
    await api.sync()
    assert await api.soap("Unsubscribe", None, ANN) is None  # no service name: every channel
    reply = await api.post("/api/v1/optout", json={"recipient": {"email": "ann@x.com"}})  # a second one: no-op
    assert reply.status_code == 202
    await api.sync()
    assert api.wh('SELECT "blackList" FROM nms_recipient WHERE email = ?', ["ann@x.com"]) == [(True,)]
    assert _history(api, "ann@x.com") == [("news", "subscribe", "soap"), (None, "unsubscribe", "soap")]
    assert api.staged()[-1][3:] == ("skipped", "already opted out")


async def test_duplicate_requests_apply_once(api: Any) -> None:
    body = {"recipient": {"email": "cid@y.org"}, "create": True}
    for _ in range(3):
        assert (await api.post("/api/v1/services/news/subscribe", json=body)).status_code == 202
    first = await api.sync()
    again = await api.sync()
    assert first["rows"]["inserted"] == 1 and first["rows"]["skipped"] == 2
    assert again["rows"]["read"] == 0
    assert [r[3:] for r in api.staged()] == [("synced", None), ("skipped", "already subscribed"),
                                             ("skipped", "already subscribed")]
    assert api.wh("SELECT count(*) FROM nms_subscription") == [(1,)]
    assert api.wh("SELECT count(*) FROM nms_recipient") == [(1,)]
    assert _history(api, "cid@y.org") == [("news", "subscribe", "api")]


async def test_refused_at_the_door(api: Any) -> None:
    fault = await api.soap("Subscribe", "nope", ANN, create=True)
    assert fault is not None and "FRY-110001" in fault
    reply = await api.post("/api/v1/services", json={"name": "old", "channel": "sms"})
    assert reply.status_code == 201 and reply.json()["channel"] == "sms"
    assert (await api.post("/api/v1/services/old/disable")).status_code == 200
    reply = await api.post("/api/v1/services/old/subscribe", json={"recipient": {"email": "a@x.com"}})
    assert reply.status_code == 409 and reply.json()["error"]["code"] == "FRY-110002"
    reply = await api.post("/api/v1/services/news,nope/subscribe", json={"recipient": {"email": "a@x.com"}})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "FRY-110001"
    reply = await api.post("/api/v1/services/news/subscribe", json={"recipient": {"colour": "red"}})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "FRY-110005"
    reply = await api.post("/api/v1/services/news/subscribe", json={"recipient": {"firstName": "no key"}})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "FRY-110005"
    fault = await api.soap("Subscribe", "news", '<recipient _key="email" email="a@x.com"/>', create=True)
    assert fault is not None and "FRY-110005" in fault
    fault = await api.soap("Subscribe", "news", "", create=True)
    assert fault is not None and "FRY-110005" in fault
    assert (await api.post("/api/v1/services", json={"name": "news"})).status_code == 409
    assert (await api.post("/api/v1/services", json={"name": "x", "channel": "pigeon"})).status_code == 400
    names = [s["name"] for s in (await api.get("/api/v1/services")).json()["services"]]
    assert names == ["news", "old", "sms_alerts"]
    assert api.staged() == []  # nothing refused was staged


async def test_expiry_removes_with_history(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from ferry.subscriptions import applier

    body = {"recipient": {"email": "dee@x.com"}, "create": True}
    assert (await api.post("/api/v1/services/sms_alerts,news/subscribe", json=body)).status_code == 202
    await api.sync()
    await api.sync()  # a run 0 days later expires nothing
    assert len(api.wh("SELECT * FROM nms_subscription")) == 2
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    monkeypatch.setattr(applier, "clock", lambda: later)
    await api.sync()  # no request staged: the run still expires
    assert api.wh('SELECT "serviceName" FROM nms_subscription') == [("news",)]  # news has no validity
    assert sorted(_history(api, "dee@x.com")) == [("news", "subscribe", "api"), ("sms_alerts", "subscribe", "api"),
                                                  ("sms_alerts", "unsubscribe", "expiry")]


async def test_postgres_warehouse(api_pg: Any) -> None:
    api = api_pg
    assert await api.soap("Subscribe", "news,sms_alerts", ANN, create=True) is None
    assert await api.soap("Unsubscribe", "news", ANN) is None
    assert await api.soap("Subscribe", "news", '<recipient email="zed@x.com"/>', create=False) is None
    assert await api.soap("Unsubscribe", "", ANN) is None
    run = await api.sync()
    assert run["rows"] == {"read": 5, "inserted": 2, "updated": 1, "deleted": 1, "skipped": 1, "failed": 0}
    assert api.wh('SELECT "serviceName" FROM nms_subscription') == [("sms_alerts",)]
    assert api.wh('SELECT "blackList" FROM nms_recipient') == [(True,)]
    assert _history(api, "ann@x.com") == [("news", "subscribe", "soap"), ("sms_alerts", "subscribe", "soap"),
                                          ("news", "unsubscribe", "soap"), (None, "unsubscribe", "soap")]
    found = (await api.get("/api/v1/services/sms_alerts/subscribers")).json()["subscribers"]
    assert [s["email"] for s in found] == ["ann@x.com"]
