"""Subscribe / Unsubscribe applied to a Snowflake warehouse (fakesnow): the cases of tests/subscriptions (SOAP and
REST, history, subscribers, global opt-out, expiry, a crash at each step between claim and mark), run again with
the warehouse in Snowflake; and the applier's statements inside the batch's transaction."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sf_reuse import cases, load

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.subscriptions import reads
from ferry.subscriptions import requests as rq
from ferry.sync.workflow import RunResult, run_once
from ferry.warehouse import Warehouse, open_warehouse
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse

SUBSCRIPTIONS = load("subscriptions/conftest.py")
API_CASES = [*cases(load("subscriptions/test_api.py"), "api"), *cases(load("subscriptions/test_api.py"), "api_pg")]
CRASH_CASES = list(cases(load("subscriptions/test_exactly_once.py"), "warehouse"))


def _wh(self: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """`Api.wh` of tests/subscriptions with the connector's `%s` placeholders."""
    return list(self.runtime.warehouse.select(sql.replace("?", "%s"), params or []))


SUBSCRIPTIONS.Api.wh = _wh  # this copy of the module only


@pytest.fixture
async def api(in_process: Any, settings: Settings, snowflake_url: str) -> AsyncIterator[Any]:
    """tests/subscriptions' app (admin, services news and sms_alerts) with a Snowflake warehouse."""
    async with SUBSCRIPTIONS._api(in_process, dataclasses.replace(settings, warehouse_url=snowflake_url)) as ready:
        assert isinstance(ready.runtime.warehouse.open(), SnowflakeWarehouse)
        yield ready


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "params"), [pytest.param(f, p, id=n) for n, f, p in API_CASES])
async def test_api_cases(api: Any, monkeypatch: pytest.MonkeyPatch, case: Callable[..., Any],
                         params: dict[str, Any]) -> None:
    given = {"api": api, "api_pg": api, "monkeypatch": monkeypatch}
    await case(**{name: given[name] for name in inspect.signature(case).parameters if name in given}, **params)


@pytest.fixture
def warehouse(snowflake_url: str) -> Iterator[Warehouse]:
    wh = open_warehouse(snowflake_url)
    try:
        yield wh
    finally:
        wh.close()


@pytest.mark.parametrize(("case", "params"), [pytest.param(f, p, id=n) for n, f, p in CRASH_CASES])
def test_crash_cases(news: StagingDatabase, warehouse: Warehouse, settings: Settings,
                     sync: Callable[[StagingDatabase, Warehouse], RunResult], monkeypatch: pytest.MonkeyPatch,
                     case: Callable[..., None], params: dict[str, Any]) -> None:
    case(news=news, warehouse=warehouse, settings=settings, sync=sync, monkeypatch=monkeypatch, **params)


def test_requests_after_recipients_synced_into_snowflake(news: StagingDatabase, warehouse: Warehouse,
                                                         settings: Settings,
                                                         sync: Callable[[StagingDatabase, Warehouse], RunResult],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A recipient synced by the generic MERGE path is found by the applier; its statements run inside the batch's
    # transaction (after BEGIN, before the ledger row and COMMIT) with the connector's placeholders.
    from ferry.ingest import Method, build_call, records_from_json

    news.store.stage([build_call(news.registry, Method.INGEST, records_from_json(
        [{"email": "eve@x.com", "firstName": "Eve"}], "nms:recipient"))])
    assert run_once(news, warehouse, "nms:recipient", settings, wait=True).state == "succeeded"
    eve = rq.recipient_from_json(news.registry, {"email": "eve@x.com"})
    news.store.stage([rq.build_request(news.pool, rq.SUBSCRIBE, "news,sms_alerts", eve, create=False)])
    news.store.stage([rq.build_request(news.pool, rq.UNSUBSCRIBE, "sms_alerts", eve)])
    statements: list[str] = []
    run = warehouse._run  # type: ignore[attr-defined]

    def recording(sql: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(sql.split()[0].upper())
        return run(sql, *args, **kwargs)

    monkeypatch.setattr(warehouse, "_run", recording)
    result = sync(news, warehouse)
    assert result.counts["inserted"] == 2 and result.counts["deleted"] == 1
    begin = statements.index("BEGIN", statements.index("COMMIT") + 1)  # after prepare's own transaction
    batch = statements[begin:statements.index("COMMIT", begin) + 1]
    assert batch[-2:] == ["INSERT", "COMMIT"] and "CREATE" not in batch and "ALTER" not in batch
    [subscribed] = reads.subscribers(warehouse, "news")
    assert subscribed["email"] == "eve@x.com" and subscribed["expires"] is None  # news: no validity (NULL)
    assert reads.subscribers(warehouse, "sms_alerts") == []
    history = reads.history(warehouse, email="eve@x.com")
    assert [(h["service"], h["action"], h["origin"]) for h in history] == [
        ("news", "subscribe", "api"), ("sms_alerts", "subscribe", "api"), ("sms_alerts", "unsubscribe", "api")]
    assert all(h["date"] and not h["date"].startswith("1970") for h in history)
