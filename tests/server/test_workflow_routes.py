"""Workflow scripts over REST, SOAP, the console's forms and /metrics, in process: rights, vars, logs, Stop."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ferry.config import Settings
from ferry.server.process.runtime import Runtime
from ferry.workflows import definitions
from ferry.workflows.schedule import Schedule

pytestmark = pytest.mark.anyio

HOURLY = Schedule(every_seconds=3600)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SOAP = ('<SOAP-ENV:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
        '<m:{method} xmlns:m="urn:xtk:workflow"><sessiontoken xsi:type="xsd:string">{session}</sessiontoken>'
        '<strWorkflowId xsi:type="xsd:string">{name}</strWorkflowId>{more}</m:{method}></SOAP-ENV:Body>'
        '</SOAP-ENV:Envelope>')


@pytest.fixture
async def app(in_process: Any, settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with in_process(settings) as (runtime, client):
        runtime.auth.add_operator("loader", "pw", schemas=["nms:recipient"])
        runtime.auth.add_operator("nobody", "pw")
        pool = runtime.db.pool
        definitions.add(pool, "importer", 'logInfo("hello " + (vars.who || "you"));\n'
                        'xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="w@example.com"/>);\n',
                        schedule=HOURLY, operator_login="loader")
        definitions.add(pool, "private", 'logInfo("admin only");', schedule=HOURLY)
        definitions.add(pool, "spinner", "while (true) {}", schedule=HOURLY, time_limit=600)
        yield runtime, client


async def _headers(client: httpx.AsyncClient, login: str, password: str) -> dict[str, str]:
    body = (await client.post("/api/v1/logon", json={"login": login, "password": password})).json()
    return {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}


async def test_rest_lists_starts_and_reads_runs_by_rights(app: tuple[Runtime, httpx.AsyncClient]) -> None:
    runtime, client = app
    admin, loader, nobody = (await _headers(client, "admin", "secret"), await _headers(client, "loader", "pw"),
                             await _headers(client, "nobody", "pw"))
    listed = (await client.get("/api/v1/workflow", headers=admin)).json()["workflows"]
    assert [w["name"] for w in listed] == ["importer", "private", "spinner"]
    assert [w["name"] for w in (await client.get("/api/v1/workflow", headers=loader)).json()["workflows"]] == \
        ["importer"]
    assert (await client.get("/api/v1/workflow", headers=nobody)).json()["workflows"] == []
    refused = await client.post("/api/v1/workflow/private/start", headers=loader)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "FRY-140001"

    run = (await client.post("/api/v1/workflow/importer/start?wait=true", json={"vars": {"who": "rest"}},
                             headers=loader)).json()
    assert run["state"] == "succeeded", run
    assert [line["message"] for line in run["log"]] == ["hello rest"]
    assert run["trigger"] == "rest" and run["startedBy"] == "loader" and len(run["requestIds"]) == 1
    request = await client.get(f"/api/v1/requests/{run['requestIds'][0]}", headers=loader)
    assert request.status_code == 200  # the staged call, followed from the run
    again = (await client.get(f"/api/v1/workflow/importer/runs/{run['id']}", headers=admin)).json()
    assert again["log"] == run["log"]
    one = (await client.get("/api/v1/workflow/importer", headers=loader)).json()
    assert one["lastRun"]["id"] == run["id"] and one["runs"][0]["logLines"] == 1
    assert (await client.get(f"/api/v1/workflow/private/runs/{run['id']}", headers=loader)).status_code == 404

    # Stop ends a running run; a second start meanwhile is refused (one at a time).
    started = (await client.post("/api/v1/workflow/spinner/start", headers=admin)).json()
    busy = await client.post("/api/v1/workflow/spinner/start", headers=admin)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "FRY-140006"
    assert (await client.post("/api/v1/workflow/spinner/stop", headers=admin)).json() == {"stopping": 1}
    ended = runtime.workflows.wait(uuid.UUID(started["id"]), 30)
    assert ended is not None and ended.state == "stopped"

    metrics = (await client.get("/metrics")).text
    assert 'ferry_workflow_runs_total{outcome="succeeded",workflow="importer"} 1.0' in metrics
    assert 'ferry_workflow_runs_total{outcome="stopped",workflow="spinner"} 1.0' in metrics
    assert 'ferry_workflow_last_success_timestamp_seconds{workflow="importer"}' in metrics
    assert 'ferry_workflow_log_lines_dropped_total{workflow="importer"} 0.0' in metrics


async def test_soap_start_with_parameters_and_rights(app: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = app
    body = (await client.post("/api/v1/logon", json={"login": "loader", "password": "pw"})).json()
    session = f"{body['sessionToken']}"
    headers = {"X-Security-Token": body["securityToken"]}
    params = ('<elemParameters xsi:type="ns:Element" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/'
              'literalxml"><variables who="soap"/></elemParameters>')
    reply = await client.post("/nl/jsp/soaprouter.jsp", headers=headers, content=SOAP.format(
        method="StartWithParameters", name="importer", session=session, more=params))
    assert reply.status_code == 200 and b"Fault" not in reply.content, reply.text
    refused = await client.post("/nl/jsp/soaprouter.jsp", headers=headers, content=SOAP.format(
        method="Start", name="private", session=session, more=""))
    assert b"FRY-140001" in refused.content
    runs = (await client.get("/api/v1/workflow/importer", headers={"Authorization": f"Bearer {session}",
                                                                    **headers})).json()["runs"]
    assert runs[0]["trigger"] == "soap" and runs[0]["vars"] == {"who": "soap"}


async def test_console_run_now_needs_the_form_token_and_the_rights(app: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = app
    page = await client.get("/console/login")
    token = CSRF.search(page.text)
    assert token is not None
    await client.post("/console/login", data={"login": "loader", "password": "pw", "csrf": token.group(1)})
    listing = await client.get("/console/workflows")
    assert listing.status_code == 200 and "importer" in listing.text and "private" not in listing.text
    csrf = CSRF.search(listing.text)
    assert csrf is not None
    forged = await client.post("/console/workflows/run", data={"name": "importer"})
    assert forged.status_code == 403 and "FRY-900001" in forged.text
    hidden = await client.post("/console/workflows/run", data={"name": "private", "csrf": csrf.group(1)})
    assert hidden.status_code == 404
    assert (await client.get("/console/workflows/private")).status_code == 404
    ran = await client.post("/console/workflows/run", data={"name": "importer", "csrf": csrf.group(1)})
    assert ran.status_code == 303 and "/console/workflows/importer/runs/" in ran.headers["location"]
