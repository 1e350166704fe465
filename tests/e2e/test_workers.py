"""`ferry serve --workers 2`: two processes on one port, each with its own writer, serving, syncing and querying."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

CALLS = 40


def _serving(process: psutil.Process, port: int) -> int:
    """Established connections `process` holds on the server port."""
    return sum(1 for c in process.net_connections("tcp") if c.laddr and c.laddr.port == port
               and c.status == psutil.CONN_ESTABLISHED)


def test_two_workers_serve_sync_and_query_with_a_postgresql_warehouse(
        new_database: Callable[[], str], new_postgres_url: Callable[[], str], tmp_path: Path,
        launch: tuple[Callable[..., object], Callable[[object], int]]) -> None:
    start, stop = launch
    server = start(new_database(), tmp_path, FERRY_WORKERS="2", FERRY_WAREHOUSE_URL=new_postgres_url(),
                   FERRY_SYNC_INTERVAL="1")
    url: str = server.url  # type: ignore[attr-defined]
    port = int(url.rsplit(":", 1)[1])
    try:
        parent = psutil.Process(server.process.pid)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while len(parent.children()) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [parent, *parent.children()]
        assert len(workers) == 2
        tokens = httpx.post(f"{url}/api/v1/logon", json={"login": "admin", "password": "secret"}).json()
        headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
        clients = [httpx.Client(base_url=url, headers=headers) for _ in range(CALLS)]  # one connection each
        try:
            for index, client in enumerate(clients):
                reply = client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": f"w{index}"})
                assert reply.status_code == 200, reply.text
            # The kernel spread the connections over both processes: each served some of the calls.
            assert all(_serving(worker, port) > 0 for worker in workers)
            found: list[str] = []
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # the first process's scheduler syncs every second
                answers = [client.get("/api/v1/data/dem/sampleTable", params={"limit": 1000}) for client in clients]
                assert {answer.status_code for answer in answers} == {200}  # queries served by either process
                found = sorted(row["testcol1"] for row in answers[0].json()["rows"])
                if len(found) == CALLS and all(len(a.json()["rows"]) == CALLS for a in answers):
                    break
                time.sleep(0.5)
            assert found == sorted(f"w{index}" for index in range(CALLS))
        finally:
            for client in clients:
                client.close()
    finally:
        assert stop(server) == 0


def test_workers_with_a_duckdb_warehouse_are_refused_with_a_clear_fault(tmp_path: Path) -> None:
    env = {**os.environ, "FERRY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}"}
    result = subprocess.run([sys.executable, "-m", "ferry.cli", "serve", "--workers", "2", "--data-dir",
                             str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0
    assert "FRY-300004" in result.stdout + result.stderr and "--workers" in result.stdout + result.stderr


pytestmark = pytest.mark.e2e
