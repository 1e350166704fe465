"""`GET /metrics`: call counts, staged records, refusals by code, latency, staging backlog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ferry.config import Settings
from ferry.server.api import metrics
from ferry.server.app import create_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(staging_db: StagingDatabase, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings, db=staging_db)
    runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferry") as http:
            yield http
    finally:
        await runtime.stop()


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = await client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_calls_refusals_and_the_backlog(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    assert value(before, "ferry_staging_up") == 1.0
    assert value(before, "ferry_staging_rows", schema="nms:recipient", state="staged") == 0
    assert value(before, "ferry_staging_oldest_unsynced_seconds", schema="nms:recipient") == 0

    logon = (await client.post("/api/v1/logon", json={"login": "ann", "password": "pw"})).json()
    headers = {"Authorization": f"Bearer {logon['sessionToken']}", "X-Security-Token": logon["securityToken"]}
    ok = await client.post("/api/v1/ingest/nms:recipient", json=[{"email": "a@x"}, {"email": "b@x"}], headers=headers)
    assert ok.status_code == 200
    bad = await client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x", "nope": 1}, headers=headers)
    assert bad.status_code == 422
    assert (await client.get("/api/v1/status")).status_code == 401
    await asyncio.sleep(0.01)

    after = await scrape(client)
    assert value(after, "ferry_calls_total", method="ingest", protocol="rest", outcome="ok") == 1
    assert value(after, "ferry_calls_total", method="ingest", protocol="rest", outcome="refused") == 1
    assert value(after, "ferry_calls_total", method="logon", protocol="rest", outcome="ok") == 1
    assert value(after, "ferry_records_staged_total", schema="nms:recipient", protocol="rest") == 2
    assert value(after, "ferry_refusals_total", code="FRY-100005", protocol="rest") == 1
    assert value(after, "ferry_refusals_total", code="FRY-600002", protocol="rest") == 1
    assert value(after, "ferry_request_seconds_count", method="ingest", protocol="rest") == 2
    assert value(after, "ferry_staging_rows", schema="nms:recipient", state="staged") == 2
    assert value(after, "ferry_staging_oldest_unsynced_seconds", schema="nms:recipient") > 0


def test_observe_call_finds_the_metrics_of_an_app_request_or_runtime_and_ignores_none() -> None:
    app = FastAPI()
    installed = metrics.install(app, SimpleNamespace(db=SimpleNamespace(store=SimpleNamespace(status=list))))
    request = SimpleNamespace(app=app)
    runtime = SimpleNamespace(metrics=installed)
    for where in (app, request, app.state, runtime, installed):
        metrics.observe_call(where, "Ingest", "soap", "ok", 0.002, records=3, schema="nms:recipient")
    metrics.observe_call(object(), "Ingest", "soap", "ok", 0.002)  # nothing installed: no error, no count
    metrics.observe_call(app, "Logon", "soap", "refused", 0.1, code="XSV-350022")
    text = installed.render().decode()
    assert 'ferry_calls_total{method="Ingest",outcome="ok",protocol="soap"} 5.0' in text
    assert 'ferry_records_staged_total{protocol="soap",schema="nms:recipient"} 15.0' in text
    assert 'ferry_refusals_total{code="XSV-350022",protocol="soap"} 1.0' in text


async def test_an_idle_purge_pass_is_counted_not_recorded(client: httpx.AsyncClient, staging_db: StagingDatabase,
                                                          settings: Settings) -> None:
    from ferry.sync import purge
    from ferry.workflows import list_runs

    before = value(await scrape(client), "ferry_purge_idle_runs_total")
    recorded = len(list_runs(staging_db.pool, workflow="ferryPurgeStagingData"))
    for _ in range(3):
        assert purge(staging_db, settings).counts["purged"] == 0
    assert value(await scrape(client), "ferry_purge_idle_runs_total") == before + 3
    assert len(list_runs(staging_db.pool, workflow="ferryPurgeStagingData")) == recorded
    # The sync's idle runs keep their own series: a purge pass is not one of them.
    assert not any(name == "ferry_sync_idle_runs_total" and dict(labels).get("schema") == ""
                   for name, labels in await scrape(client))


def test_each_app_has_its_own_registry() -> None:
    runtime: Any = SimpleNamespace(db=SimpleNamespace(store=SimpleNamespace(status=list)))
    first, second = FastAPI(), FastAPI()
    metrics.install(first, runtime)
    metrics.install(second, runtime)
    metrics.observe_call(first, "Ingest", "soap", "ok", 0.001)
    assert "ferry_calls_total{" in metrics.metrics_of(first).render().decode()  # type: ignore[union-attr]
    assert "ferry_calls_total{" not in metrics.metrics_of(second).render().decode()  # type: ignore[union-attr]


def test_a_scrape_answers_when_staging_is_down() -> None:
    def broken() -> list[Any]:
        raise OSError("connection refused")

    installed = metrics.Metrics(SimpleNamespace(db=SimpleNamespace(store=SimpleNamespace(status=broken))))
    assert "ferry_staging_up 0.0" in installed.render().decode()
