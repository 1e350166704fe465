"""`ferry serve --workers 2`: two processes on one port, each with its own writer, serving, syncing and querying,
with each warehouse engine (with DuckDB the first process owns the file and the other reaches it through it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from lxml import etree

from fakesnow_fixtures import fakesnow_port, new_snowflake_url

__all__ = ["fakesnow_port", "new_snowflake_url"]  # fixtures of the Snowflake warehouse test

CALLS = 40
ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def _serving(process: psutil.Process, port: int) -> int:
    """Established connections `process` holds on the server port."""
    return sum(1 for c in process.net_connections("tcp") if c.laddr and c.laddr.port == port
               and c.status == psutil.CONN_ESTABLISHED)


def _listening(process: psutil.Process, port: int) -> bool:
    return any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
               for c in process.net_connections("tcp"))


def _workers(server: Any) -> list[psutil.Process]:
    """The first process and its extra worker, once both serve (else the kernel gives every connection to one, or
    queues some on a process still starting)."""
    port = int(server.url.rsplit(":", 1)[1])
    parent = psutil.Process(server.process.pid)
    deadline = time.monotonic() + 60
    while len(parent.children()) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [parent, *parent.children()]
    assert len(workers) == 2
    # Bound is not serving yet: a process prints its "listening" line once its app is about to accept.
    while (not all(_listening(worker, port) for worker in workers)
           or server.log.read_text().count("ferry listening") < 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    return workers


def _clients(url: str) -> tuple[list[httpx.Client], str]:
    """CALLS clients of one connection each (the kernel spreads them over the processes), and the session token."""
    tokens = httpx.post(f"{url}/api/v1/logon", json={"login": "admin", "password": "secret"}, timeout=60).json()
    headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
    return [httpx.Client(base_url=url, headers=headers, timeout=60) for _ in range(CALLS)], tokens["sessionToken"]


def _ingest_and_read_back(clients: list[httpx.Client], workers: list[psutil.Process], port: int) -> None:
    """Each client ingests a record; then every client reads all of them back once the sync has run."""
    for index, client in enumerate(clients):
        reply = client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": f"w{index}"})
        assert reply.status_code == 200, reply.text
    # The kernel spread the connections over both processes: each served some of the calls.
    assert all(_serving(worker, port) > 0 for worker in workers)
    found: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the first process's scheduler syncs every second
        answers = [client.get("/api/v1/data/dem/sampleTable", params={"limit": 1000}) for client in clients]
        assert {answer.status_code for answer in answers} == {200}, answers[0].text  # served by either process
        found = sorted(row["testcol1"] for row in answers[0].json()["rows"])
        if len(found) == CALLS and all(len(a.json()["rows"]) == CALLS for a in answers):
            break
        time.sleep(0.5)
    assert found == sorted(f"w{index}" for index in range(CALLS))


def _serve_two_workers(launch: tuple[Callable[..., object], Callable[[object], int]], staging_url: str,
                       folder: Path, warehouse_url: str) -> None:
    """`--workers 2` on a warehouse several processes may open: both serve, sync and answer reads."""
    start, stop = launch
    server = start(staging_url, folder, FERRY_WORKERS="2", FERRY_WAREHOUSE_URL=warehouse_url, FERRY_SYNC_INTERVAL="1")
    url: str = server.url  # type: ignore[attr-defined]
    try:
        workers = _workers(server)
        clients, _ = _clients(url)
        try:
            _ingest_and_read_back(clients, workers, int(url.rsplit(":", 1)[1]))
        finally:
            for client in clients:
                client.close()
    finally:
        assert stop(server) == 0, server.log.read_text()  # type: ignore[attr-defined]


def test_two_workers_serve_sync_and_query_with_a_postgresql_warehouse(
        new_database: Callable[[], str], new_postgres_url: Callable[[], str], tmp_path: Path,
        launch: tuple[Callable[..., object], Callable[[object], int]]) -> None:
    _serve_two_workers(launch, new_database(), tmp_path, new_postgres_url())


def test_two_workers_serve_sync_and_query_with_a_snowflake_warehouse(
        new_database: Callable[[], str], new_snowflake_url: Callable[[], str], tmp_path: Path,
        launch: tuple[Callable[..., object], Callable[[object], int]]) -> None:
    _serve_two_workers(launch, new_database(), tmp_path, new_snowflake_url())


def _soap(client: httpx.Client, session: str, urn: str, method: str, params: str) -> etree._Element:
    body = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
            f'<m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{session}</sessiontoken>'
            f'{params}</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>')
    reply = client.post("/nl/jsp/soaprouter.jsp", content=body.encode(),
                        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f"{urn}#{method}"})
    assert reply.status_code in (200, 500), reply.text
    return etree.fromstring(reply.content)


def _fault(root: etree._Element) -> str | None:
    node = root.find(f"{{{ENV_NS}}}Body/{{{ENV_NS}}}Fault")
    return None if node is None else str(node.findtext("faultstring"))


def _doc(xml: str, name: str = "doc") -> str:
    return f'<{name} xsi:type="" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">{xml}</{name}>'


def test_two_workers_serve_sync_and_query_with_a_duckdb_warehouse(
        new_database: Callable[[], str], tmp_path: Path,
        launch: tuple[Callable[..., object], Callable[[object], int]]) -> None:
    """The first process owns the DuckDB file; the second (role ingest) answers reads, Write, sync triggers and
    health through it: every call gives the same answer whichever process the connection landed on."""
    start, stop = launch
    db_url = new_database()
    # A long interval: after the run at start, only the triggers below sync. JSON logs at info: an access line
    # a call.
    server = start(db_url, tmp_path, log_level="info", FERRY_WORKERS="2", FERRY_SYNC_INTERVAL="3600",
                   FERRY_LOG_JSON="1")
    url: str = server.url  # type: ignore[attr-defined]
    port = int(url.rsplit(":", 1)[1])
    try:
        workers = _workers(server)
        clients, session = _clients(url)
        try:
            for index, client in enumerate(clients):
                reply = client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": f"w{index}"})
                assert reply.status_code == 200, reply.text
            assert all(_serving(worker, port) > 0 for worker in workers)
            # A sync trigger works from either process (the worker's is relayed to the owner's scheduler).
            for client in clients:
                reply = client.post("/api/v1/sync/dem:sampleTable", params={"wait": "true"})
                assert reply.status_code == 200, reply.text
                runs = reply.json()["runs"]
                assert [run["state"] for run in runs] == ["succeeded"], runs
            with psycopg.connect(db_url) as conn:
                relayed = conn.execute("SELECT count(*) FROM ferry.sync_requests WHERE requested_by = %s",
                                       (f"ferry serve worker (PID {workers[1].pid})",)).fetchone()
            assert relayed is not None and 0 < relayed[0] < CALLS  # the worker relayed some, the owner ran others
            # REST and SOAP reads, answered by either process, see every record synced.
            expected = sorted(f"w{index}" for index in range(CALLS))
            query = _doc('<queryDef schema="dem:sampleTable" operation="select"><select><node expr="@testcol1"/>'
                         '</select></queryDef>', "document")
            for client in clients:
                answer = client.get("/api/v1/data/dem/sampleTable", params={"limit": 1000})
                assert answer.status_code == 200, answer.text
                assert sorted(row["testcol1"] for row in answer.json()["rows"]) == expected
                root = _soap(client, session, "xtk:queryDef", "ExecuteQuery", query)
                assert _fault(root) is None, etree.tostring(root)
                assert sorted(e.get("testcol1") for e in root.iter() if isinstance(e.tag, str)
                              and etree.QName(e).localname == "sampleTable") == expected
            # Write applies straight to the warehouse (one transaction, the duplicate check before the commit).
            first = _soap(clients[0], session, "xtk:session", "Write", _doc(
                '<recipient xtkschema="nms:recipient" _operation="insert" email="w@x.com" firstName="W"/>'))
            assert _fault(first) is None, etree.tostring(first)
            for client in clients[1:]:
                again = _soap(client, session, "xtk:session", "Write", _doc(
                    '<recipient xtkschema="nms:recipient" _operation="insert" email="w@x.com"/>'))
                fault = _fault(again)
                assert fault is not None and "ODB-240000" in fault, fault
            for client in clients:
                answer = client.get("/api/v1/data/nms/recipient", params={"fields": "email,firstName"})
                assert answer.status_code == 200, answer.text
                assert answer.json()["rows"] == [{"email": "w@x.com", "firstName": "W"}]
            # SOAP's way to force the sync, from either process: the second round of records is synced on return.
            for index, client in enumerate(clients):
                staged = client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": f"v{index}"})
                assert staged.status_code == 200, staged.text
                root = _soap(client, session, "nms:replicationStrategy", "StartReplicateStagingData",
                             '<strSchema xsi:type="xsd:string">dem:sampleTable</strSchema>')
                assert _fault(root) is None, etree.tostring(root)
                answer = client.get("/api/v1/data/dem/sampleTable", params={"limit": 1000,
                                                                            "filter": f"@testcol1 = 'v{index}'"})
                assert answer.status_code == 200 and len(answer.json()["rows"]) == 1, answer.text
            # Health: the warehouse part is up on both processes (on the worker, as the owner reports it).
            for client in clients:
                health = client.get("/healthz").json()
                assert health["parts"]["warehouse"]["status"] == "up", health
            assert all(_serving(worker, port) > 0 for worker in workers)
            _metrics_agree(clients, at_least=2 * CALLS)
            _process_series_agree(clients, reads_at_least=2 * CALLS)
        finally:
            for client in clients:
                client.close()
    finally:
        assert stop(server) == 0, server.log.read_text()  # type: ignore[attr-defined]
    assert not psutil.pid_exists(workers[1].pid) or workers[1].status() == psutil.STATUS_ZOMBIE
    _logs_are_json_lines(server.log.read_text())  # type: ignore[attr-defined]


def _calls_total(exposition: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines()
               if line.startswith("ferry_calls_total{"))


def _metrics_agree(clients: list[httpx.Client], at_least: int) -> None:
    """Every scrape, whichever process its connection reached, gives the same counts (summed over processes)."""
    totals = set()
    for client in clients:
        scrape = client.get("/metrics")
        assert scrape.status_code == 200, scrape.text
        totals.add(_calls_total(scrape.text))
    assert len(totals) == 1, totals
    assert totals.pop() >= at_least


def _samples(exposition: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one series in a scrape."""
    found = {}
    for line in exposition.splitlines():
        if line.startswith((name + "{", name + " ")):
            labels, value = line[len(name):].rsplit(" ", 1)
            found[labels] = float(value)
    return found


def _process_series_agree(clients: list[httpx.Client], reads_at_least: int) -> None:
    """The series each process keeps (its parts' states, its warehouse reads) come from both processes in every
    scrape: the same answer whichever process the connection reached, the reads summed."""
    scrapes = []
    for client in clients:
        scrape = client.get("/metrics")
        assert scrape.status_code == 200, scrape.text
        scrapes.append(scrape.text)
    reads = {_samples(text, "ferry_warehouse_reads_total").get('{outcome="ok"}') for text in scrapes}
    assert len(reads) == 1, reads
    assert (reads.pop() or 0) >= reads_at_least  # both processes' reads (REST data and SOAP ExecuteQuery)
    for text in scrapes:
        assert _samples(text, "ferry_part_up") == {'{part="staging"}': 1.0, '{part="warehouse"}': 1.0}, text
        assert set(_samples(text, "ferry_part_state_seconds")) == {'{part="staging",status="up"}',
                                                                   '{part="warehouse",status="up"}'}
        assert _samples(text, "ferry_warehouse_reads_in_flight") == {"": 0.0}
        assert "ferry_part_state_since" not in text


def _logs_are_json_lines(log: str) -> None:
    """FERRY_LOG_JSON=1: every log line of both processes is one JSON object; an access line names its request id
    and operator. (The few plain lines are the command's own prints: listening, stopped.)"""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert not re.search(r"^\d{4}-\d\d-\d\d \S+ (INFO|WARNING|ERROR) ", log, re.M), log[:2000]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access and all(line.get("request_id") for line in access)
    assert any(line.get("operator") == "admin" and "/api/v1/ingest" in line["message"] for line in access)
    assert any(line.get("operator") == "admin" and "soaprouter" in line["message"] for line in access)  # SOAP too


def test_a_worker_whose_duckdb_owner_is_gone_answers_clear_faults(
        new_database: Callable[[], str], tmp_path: Path,
        launch: tuple[Callable[..., object], Callable[[object], int]]) -> None:
    """The owner killed (no graceful stop): the worker still stages calls; its warehouse reads, sync triggers and
    health say FRY-500001 naming the owner, never a traceback."""
    start, stop = launch
    server = start(new_database(), tmp_path, FERRY_WORKERS="2", FERRY_SYNC_INTERVAL="3600")
    url: str = server.url  # type: ignore[attr-defined]
    owner, worker = _workers(server)
    try:
        owner.kill()
        owner.wait(30)
        tokens = httpx.post(f"{url}/api/v1/logon", json={"login": "admin", "password": "secret"}, timeout=30).json()
        headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:  # only the worker listens now
            staged = client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": "after"})
            assert staged.status_code == 200, staged.text
            read = client.get("/api/v1/data/dem/sampleTable")
            assert read.status_code == 503, read.text
            error = read.json()["error"]
            assert error["code"] == "FRY-500001" and f"(PID {owner.pid}) is not answering" in error["message"]
            sync = client.post("/api/v1/sync/dem:sampleTable")
            assert sync.status_code == 503 and sync.json()["error"]["code"] == "FRY-500001", sync.text
            deadline = time.monotonic() + 30
            while True:
                part = client.get("/healthz").json()["parts"]["warehouse"]
                if part["status"] == "down" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert part["status"] == "down" and "not answering" in part["reason"], part
    finally:
        if worker.is_running():
            worker.terminate()  # its parent is gone: nobody else stops it
            worker.wait(40)
        stop(server)


def test_workers_with_role_sync_and_a_duckdb_warehouse_are_refused_with_a_clear_fault(tmp_path: Path) -> None:
    env = {**os.environ, "FERRY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}"}
    result = subprocess.run([sys.executable, "-m", "ferry.cli", "serve", "--workers", "2", "--role", "sync",
                             "--data-dir", str(tmp_path / "data")], env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode != 0
    assert "FRY-300004" in result.stdout + result.stderr and "--role sync" in result.stdout + result.stderr


pytestmark = pytest.mark.e2e
