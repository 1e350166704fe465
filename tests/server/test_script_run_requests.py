"""A script run's calls looked up by the run's id (issue 22 §5): REST and the console, with the request's rights."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ferry.config import Settings
from ferry.server.process.runtime import Runtime
from ferry.subscriptions import services
from ferry.workflows import definitions
from ferry.workflows.schedule import Schedule

pytestmark = pytest.mark.anyio

HOURLY = Schedule(every_seconds=3600)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
THREE = "".join(f'xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="r{n}@example.com"/>);\n'
                for n in range(3))
MIXED = ('xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="s@example.com"/>);\n'
         'nms.subscription.Subscribe("news", <recipient email="s@example.com"/>, true);\n')


@pytest.fixture
async def app(in_process: Any, settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with in_process(settings) as (runtime, client):
        runtime.auth.add_operator("loader", "pw", schemas=["nms:recipient", "nms:subscription"])
        runtime.auth.add_operator("other", "pw", schemas=["nms:recipient", "nms:subscription"])
        services.add(runtime.db.pool, "news", label="Newsletter", channel="email")
        definitions.add(runtime.db.pool, "three", THREE, schedule=HOURLY, operator_login="loader")
        definitions.add(runtime.db.pool, "mixed", MIXED, schedule=HOURLY, operator_login="loader")
        yield runtime, client


async def _headers(client: httpx.AsyncClient, login: str, password: str) -> dict[str, str]:
    body = (await client.post("/api/v1/logon", json={"login": login, "password": password})).json()
    return {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}


async def _run(client: httpx.AsyncClient, headers: dict[str, str], workflow: str) -> dict[str, Any]:
    run: dict[str, Any] = (await client.post(f"/api/v1/workflow/{workflow}/start?wait=true",
                                             headers=headers)).json()
    assert run["state"] == "succeeded", run
    return run


async def test_the_run_id_lists_the_runs_calls_in_order_to_its_operator(app: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = app
    loader, other, admin = (await _headers(client, "loader", "pw"), await _headers(client, "other", "pw"),
                            await _headers(client, "admin", "secret"))
    run = await _run(client, loader, "three")
    assert len(run["requestIds"]) == 3 and run["id"] not in run["requestIds"]

    found = await client.get(f"/api/v1/requests/{run['id']}", headers=loader)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["requestId"], body["schema"], body["method"]) == (run["id"], "nms:recipient", "Ingest")
    assert (body["operator"], body["origin"], body["recordCount"]) == ("loader", "js", 3)
    assert [r["values"]["email"] for r in body["records"]] == [f"r{n}@example.com" for n in range(3)]
    assert [r["requestId"] for r in body["records"]] == run["requestIds"]  # commit order, each call's own id
    assert [r["position"] for r in body["records"]] == [1, 1, 1] and body["counts"] == {"staged": 3}

    call = (await client.get(f"/api/v1/requests/{run['requestIds'][0]}", headers=loader)).json()
    assert call["requestId"] == run["requestIds"][0] and call["runId"] == run["id"] and call["recordCount"] == 1

    hidden = await client.get(f"/api/v1/requests/{run['id']}", headers=other)  # not the run's operator
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "FRY-600011"
    assert (await client.get(f"/api/v1/requests/{run['id']}", headers=admin)).status_code == 200
    assert (await client.get(f"/api/v1/requests/{uuid.uuid4()}", headers=admin)).status_code == 404


async def test_a_runs_records_come_in_pages_reading_only_the_calls_a_page_reaches(
        app: tuple[Runtime, httpx.AsyncClient]) -> None:
    runtime, client = app
    loader = await _headers(client, "loader", "pw")
    run = await _run(client, loader, "three")
    url = f"/api/v1/requests/{run['id']}"
    pages, offset = [], 0
    while offset is not None:
        body = (await client.get(url, params={"limit": 2, "offset": offset}, headers=loader)).json()
        assert body["recordCount"] == 3 and body["offset"] == offset
        pages.append([r["values"]["email"] for r in body["records"]])
        offset = body["nextOffset"]
    assert pages == [["r0@example.com", "r1@example.com"], ["r2@example.com"]]
    second = (await client.get(url, params={"limit": 1, "offset": 1}, headers=loader)).json()
    assert [r["requestId"] for r in second["records"]] == [run["requestIds"][1]]
    assert (await client.get(url, params={"limit": 0}, headers=loader)).status_code == 400
    store = runtime.db.store
    found = store.request(uuid.UUID(run["id"]), limit=1, offset=2)
    assert found is not None and [r["request_id"] for r in found["records"]] == [uuid.UUID(run["requestIds"][2])]


async def test_a_run_over_two_schemas_lists_both_and_subscribe_carries_the_run(
        app: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = app
    loader = await _headers(client, "loader", "pw")
    run = await _run(client, loader, "mixed")
    body = (await client.get(f"/api/v1/requests/{run['id']}", headers=loader)).json()
    assert body["schema"] == "nms:recipient,nms:subscription" and body["method"] == "Ingest"
    assert [r["schema"] for r in body["records"]] == ["nms:recipient", "nms:subscription"]
    assert [r["requestId"] for r in body["records"]] == run["requestIds"]


async def test_the_console_shows_a_run_by_its_id(app: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = app
    run = await _run(client, await _headers(client, "loader", "pw"), "three")
    page = await client.get("/console/login")
    token = CSRF.search(page.text)
    assert token is not None
    await client.post("/console/login", data={"login": "loader", "password": "pw", "csrf": token.group(1)})
    shown = await client.get(f"/console/lookup?q={run['id']}")
    assert shown.status_code == 200
    assert f"Script run <span class=\"mono\">{run['id']}</span>" in shown.text and "3 calls staged" in shown.text
    places = [shown.text.index(f">{request_id}</a>") for request_id in run["requestIds"]]
    assert places == sorted(places)  # the calls' rows, in commit order
    call = await client.get(f"/console/lookup?q={run['requestIds'][0]}")
    assert f"Staged by script run <a class=\"mono\" href=\"/console/lookup?q={run['id']}\">" in call.text
