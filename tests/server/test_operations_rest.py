"""REST for operators: run history filtered by outcome in the CLI's vocabulary, a logon without a content type
refused with a code that says what to send, a request id on every reply."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.config import Settings
from ferry.ingest import Method, RawRecord, build_call

pytestmark = pytest.mark.anyio


async def test_logon_without_a_json_content_type_says_what_to_send(settings: Settings, in_process: Any) -> None:
    async with in_process(settings) as (_, client):
        reply = await client.post("/api/v1/logon", content=b'{"login": "admin", "password": "secret"}',
                                  headers={"content-type": "application/x-www-form-urlencoded"})
        assert reply.status_code == 415, reply.text
        body = reply.json()
        assert "FRY-600009" in str(body) and "Content-Type: application/json" in str(body)
        assert "valid dictionary" not in reply.text


async def test_every_reply_has_a_request_id_and_the_log_context_has_it() -> None:
    import httpx
    from starlette.responses import PlainTextResponse

    from ferry.logs import current_context
    from ferry.server.door.request_id import RequestIdDoor

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse(current_context().get("request_id", ""))(scope, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=RequestIdDoor(app)),
                                 base_url="http://ferry.test") as client:
        echoed = await client.get("/", headers={"X-Request-Id": "trace-42"})
        assert echoed.headers["x-request-id"] == "trace-42" and echoed.text == "trace-42"
        made = await client.get("/", headers={"X-Request-Id": "no spaces allowed"})
        assert made.headers["x-request-id"] == made.text and len(made.text) == 32


async def test_workflows_filter_by_state_and_name_fields_as_the_cli_does(settings: Settings,
                                                                        in_process: Any) -> None:
    async with in_process(settings) as (runtime, client):
        db = runtime.db
        db.store.stage([build_call(db.registry, Method.INGEST, [RawRecord(1, "nms:recipient", {"email": "a@x"},
                                                                          None, None)])])
        tokens = (await client.post("/api/v1/logon", json={"login": "admin", "password": "secret"})).json()
        headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
        synced = await client.post("/api/v1/sync/nms:recipient", params={"wait": "true"}, headers=headers)
        assert synced.status_code == 200, synced.text
        succeeded = (await client.get("/api/v1/workflows", params={"state": "succeeded"}, headers=headers)).json()
        assert [run["state"] for run in succeeded["runs"]] == ["succeeded"]
        run = succeeded["runs"][0]
        assert {"id", "workflow", "schema", "state", "startedAt", "endedAt", "batches", "rows", "error"} == set(run)
        assert run["schema"] == "nms:recipient" and run["rows"]["inserted"] == 1
        failed = (await client.get("/api/v1/workflows", params={"state": "failed"}, headers=headers)).json()
        assert failed["runs"] == []
        bad = await client.get("/api/v1/workflows", params={"state": "nope"}, headers=headers)
        assert bad.status_code == 400 and "unknown run state nope" in bad.text
