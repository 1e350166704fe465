"""`ferry serve` lifecycle: admin from FERRY_ADMIN_PASSWORD, graceful SIGTERM with calls in flight."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
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
        found = re.search(r"<pstrSUuids xsi:type='xsd:string'>([^<]+)<", reply.text)
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
