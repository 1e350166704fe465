"""Waiting for a workflow run over REST and in the console holds no thread: the run's future is awaited."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ferry.config import Settings
from ferry.workflows import definitions
from ferry.workflows.runner import ScriptRunner
from ferry.workflows.schedule import Schedule

pytestmark = pytest.mark.anyio
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def test_rest_and_console_wait_for_a_run_without_a_blocking_wait(in_process: Any, settings: Settings,
                                                                       monkeypatch: Any) -> None:
    def blocking(*_: Any, **__: Any) -> Any:
        raise AssertionError("a thread would block in ScriptRunner.wait for the whole run")

    monkeypatch.setattr(ScriptRunner, "wait", blocking)
    async with in_process(settings) as (runtime, client):
        definitions.add(runtime.db.pool, "quick", 'logInfo("hi");', schedule=Schedule(every_seconds=3600))
        body = (await client.post("/api/v1/logon", json={"login": "admin", "password": "secret"})).json()
        headers = {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}
        run = (await client.post("/api/v1/workflow/quick/start?wait=true", headers=headers)).json()
        assert run["state"] == "succeeded" and [line["message"] for line in run["log"]] == ["hi"], run

        token = CSRF.search((await client.get("/console/login")).text)
        assert token is not None
        await client.post("/console/login", data={"login": "admin", "password": "secret", "csrf": token.group(1)})
        csrf = CSRF.search((await client.get("/console/workflows")).text)
        assert csrf is not None
        ran = await client.post("/console/workflows/run", data={"name": "quick", "csrf": csrf.group(1)})
        assert ran.status_code == 303 and ran.headers["location"].endswith("?done=ran")
