"""The acceptance scenario (acc-js-sdk-protocol.md §8 + StartReplicateStagingData) with the real npm SDK against
a fresh `ferry serve` (fresh staging database, fresh DuckDB warehouse file), and the scheduler syncing on its own."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg_pool import ConnectionPool

from ferry.server.api import mcping
from ferry.subscriptions import services

pytestmark = pytest.mark.e2e


def _calls(url: str) -> dict[str, float]:
    """SOAP calls answered `ok`, by method, read from the server's own metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for labels, value in re.findall(r'^ferry_calls_total\{([^}]*)\} (\S+)$', text, re.M):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if pairs.get("protocol") == "soap" and pairs.get("outcome") == "ok":
            found[pairs["method"]] = float(value)
    return found


def test_sdk_acceptance_scenario(node_sdk: Path, launch: Any, new_database: Callable[[], str],
                                 tmp_path: Path) -> None:
    start, stop = launch
    db_url = new_database()
    server = start(db_url, tmp_path / "serve", FERRY_SYNC_INTERVAL="3600")
    try:
        with ConnectionPool(db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
            services.add(pool, "news", channel="email")
        node = shutil.which("node")
        assert node is not None
        result = subprocess.run([node, str(node_sdk / "acceptance.js")], cwd=node_sdk, capture_output=True,
                                text=True, timeout=120, env={"ACC_URL": server.url, "PATH": str(Path(node).parent)})
        steps = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0, f"{steps}\n{result.stderr}\n{server.log.read_text()}"
        assert [s["step"] for s in steps] == ["logon", "health", "ingest", "replicate", "query", "write",
                                              "writeNoKey", "session", "subscription", "schema", "fault", "logoff"]
        assert steps[4]["value"] == {"recipient": [{"email": "b@x.com", "firstName": "Bobby"}]}
        session = steps[7]["value"]
        assert session["databaseId"] == "ferry" and session["userInfo"]["login"] == "admin"
        assert session["userInfo"]["login-right"] == {"right": "admin"}
        assert session["mc"] == {"status": "Ok", "eventQueueMaxSize": str(mcping.THRESHOLD)}
        assert steps[8]["value"] == {"subHisto": [{"serviceName": "news", "action": "1", "origin": "soap"}]}
        # The wire sequence, from the server's side (SOAP calls answered ok, by method).
        calls = _calls(server.url)
        assert calls.get("Logon") == 1 and calls.get("Logoff") == 1
        assert calls.get("Ingest") == 2 and calls.get("IngestExt") == 2
        assert calls.get("StartReplicateStagingData") == 2
        # select, get, getIfExists, count, select after write, count after Write without key, history, subscription
        assert calls.get("ExecuteQuery") == 8
        assert calls.get("Write") == 2 and calls.get("WriteCollection") == 1
        assert calls.get("GetOption") == 1 and calls.get("GetUserInfo") == 1 and calls.get("Subscribe") == 1
        assert calls.get("GetEntityIfMoreRecent", 0) >= 4  # xtk:session, nms:replicationStrategy, xtk:queryDef, …
    finally:
        assert stop(server) == 0, server.log.read_text()


def test_scheduler_syncs_on_its_own(launch: Any, new_database: Callable[[], str], tmp_path: Path) -> None:
    start, stop = launch
    server = start(new_database(), tmp_path / "serve", FERRY_SYNC_INTERVAL="1")
    try:
        logon = httpx.post(f"{server.url}/api/v1/logon", json={"login": "admin", "password": "secret"}, timeout=10)
        tokens = logon.json()
        headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
        staged = httpx.post(f"{server.url}/api/v1/ingest/nms:recipient", headers=headers, timeout=10,
                            json=[{"email": "auto@x.com", "firstName": "Auto"}])
        assert staged.status_code == 200, staged.text
        deadline = time.monotonic() + 30
        rows: list[Any] = []
        while time.monotonic() < deadline:
            reply = httpx.get(f"{server.url}/api/v1/data/nms/recipient", headers=headers, timeout=10,
                              params={"fields": "email,firstName"})
            assert reply.status_code == 200, reply.text
            rows = reply.json()["rows"]
            if rows:
                break
            time.sleep(0.2)
        assert rows == [{"email": "auto@x.com", "firstName": "Auto"}]
        runs = httpx.get(f"{server.url}/api/v1/workflows", headers=headers, timeout=10).json()["runs"]
        assert any(run["state"] == "succeeded" and run["rows"]["inserted"] == 1 for run in runs)
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert 'ferry_sync_last_success_timestamp_seconds{schema="nms:recipient"}' in text
    finally:
        assert stop(server) == 0, server.log.read_text()
