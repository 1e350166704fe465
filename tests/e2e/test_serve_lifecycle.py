"""`ferry serve` lifecycle: admin from FERRY_ADMIN_PASSWORD, graceful SIGTERM with calls in flight."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.e2e

ENV = ('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
       '<m:{method} xmlns:m="urn:xtk:session"><sessiontoken>{token}</sessiontoken>{params}</m:{method}>'
       '</SOAP-ENV:Body></SOAP-ENV:Envelope>')


def test_sigterm_commits_in_flight_calls(new_database: Callable[[], str], tmp_path: Any, launch: Any) -> None:
    start_server, _ = launch
    server = start_server(new_database(), tmp_path / "serve")
    url = f"{server.url}/nl/jsp/soaprouter.jsp"
    logon = httpx.post(url, content=ENV.format(method="Logon", token="",
                                               params="<login>admin</login><password>secret</password>"))
    session = re.search(r"<pstrSessionToken xsi:type='xsd:string'>([^<]+)<", logon.text)
    security = re.search(r"<pstrSecurityToken xsi:type='xsd:string'>([^<]+)<", logon.text)
    assert session and security, logon.text
    accepted: list[str] = []

    async def one(http: httpx.AsyncClient, i: int) -> None:
        body = ENV.format(method="Ingest", token=session.group(1),
                          params=f'<domDoc><sampleTable xtkschema="dem:sampleTable" testcol1="t{i}"/></domDoc>')
        try:
            reply = await http.post(url, content=body, headers={"X-Security-Token": security.group(1)})
        except httpx.TransportError:
            return  # not accepted: the server had stopped listening
        found = re.search(r'<pstrSUuids xsi:type="xsd:string">([^<]+)<', reply.text)
        if found:
            accepted.append(found.group(1))

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as http:
            tasks = [asyncio.create_task(one(http, i)) for i in range(600)]
            while len(accepted) < 50:
                await asyncio.sleep(0.005)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)

    asyncio.run(run())
    assert server.process.wait(timeout=60) == 0, server.log.read_text()
    assert 50 <= len(accepted) < 600, len(accepted)  # some calls were in flight, later ones were refused
    with psycopg.connect(server.db_url) as conn:
        staged = {row[0] for row in conn.execute("SELECT id FROM ferry_stg.dem_sampletable")}
        admins = conn.execute("SELECT login, admin FROM ferry.operators").fetchall()
    assert set(accepted) <= staged  # every call answered with success was committed
    assert admins == [("admin", True)]


def test_embedded_postgres_is_stopped_on_exit(tmp_path: Any) -> None:
    """Without FERRY_DATABASE_URL, serve starts its own PostgreSQL under --data-dir and stops it on SIGTERM."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key not in ("FERRY_DATABASE_URL", "FERRY_CONFIG")}
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ferry.cli", "serve", "--port", str(port), "--data-dir",
                                    str(data), "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT,
                                   env={**env, "FERRY_ADMIN_PASSWORD": "secret"}, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError(log.read_text())
        pid_file = next(data.rglob("postmaster.pid"))
        postmaster = int(pid_file.read_text().split()[0])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "ferry listening on http://127.0.0.1:" in log.read_text()
    assert not pid_file.exists()  # PostgreSQL removes it on a clean shutdown
    stat = Path(f"/proc/{postmaster}/stat")
    # Gone, or a zombie waiting for whichever process adopted the daemonised postmaster to reap it.
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
