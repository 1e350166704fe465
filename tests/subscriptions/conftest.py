"""Fixtures for subscription tests: a DuckDB warehouse and the API app (`news` and `sync` are in tests/conftest.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ferry.config import Settings
from ferry.server.process.runtime import Runtime
from ferry.subscriptions import services
from ferry.warehouse import Warehouse, open_warehouse


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The DuckDB warehouse file of `settings`."""
    wh = open_warehouse(settings.effective_warehouse_url)
    try:
        yield wh
    finally:
        wh.close()




def rows(wh: Warehouse, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """A warehouse query (DuckDB `?` placeholders)."""
    return wh.select(sql, params or [])


# -- the in-process app, driven over SOAP and REST -------------------------------------------------------------

ENV = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
       'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>{body}</SOAP-ENV:Body>'
       '</SOAP-ENV:Envelope>')
LITERAL = 'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"'


@dataclass
class Api:
    """SOAP and REST calls as admin against one in-process app."""

    client: httpx.AsyncClient
    runtime: Runtime
    session: str
    security: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}", "X-Security-Token": self.security}

    async def soap(self, method: str, service: str | None, recipient: str, create: bool | None = None) -> str | None:
        """Call nms:subscription#method; the fault string, or None on success (empty response checked)."""
        params = "" if service is None else f'<service xsi:type="xsd:string">{service}</service>'
        params += f'<content xsi:type="ns:Element" {LITERAL}>{recipient}</content>'
        if create is not None:
            params += f'<create xsi:type="xsd:boolean">{"true" if create else "false"}</create>'
        body = (f'<m:{method} xmlns:m="urn:nms:subscription"><sessiontoken xsi:type="xsd:string">{self.session}'
                f'</sessiontoken>{params}</m:{method}>')
        reply = await self.client.post("/nl/jsp/soaprouter.jsp", content=ENV.format(body=body).encode(),
                                       headers={"X-Security-Token": self.security})
        assert reply.status_code == 200, reply.text
        if "<faultstring>" in reply.text or "faultstring" in reply.text:
            return reply.text
        assert f"{method}Response" in reply.text, reply.text
        return None

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.headers, **kwargs)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def sync(self) -> dict[str, Any]:
        reply = await self.post("/api/v1/sync/nms:subscription", params={"wait": "true"})
        assert reply.status_code == 200, reply.text
        run: dict[str, Any] = reply.json()["runs"][0]
        assert run["state"] == "succeeded", run
        return run

    def staged(self) -> list[tuple[Any, ...]]:
        """(serviceName, action, origin, _state, _reason) of every staged request, in order."""
        with self.runtime.db.pool.connection() as conn:
            return conn.execute('SELECT "serviceName", action, origin, _state, _reason '
                                "FROM ferry.rows_nms_subscription ORDER BY _seq").fetchall()

    def wh(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        wh = self.runtime.warehouse
        return wh.select(sql.replace("?", "%s") if wh.dialect == "postgres" else sql, params or [])


@asynccontextmanager
async def _api(in_process: Any, settings: Settings) -> AsyncIterator[Api]:
    async with in_process(settings) as (runtime, client):
        services.add(runtime.db.pool, "news", label="Newsletter", channel="email")
        services.add(runtime.db.pool, "sms_alerts", label="SMS alerts", channel="sms", validity_days=30)
        reply = await client.post("/api/v1/logon", json={"login": "admin", "password": "secret"})
        yield Api(client, runtime, reply.json()["sessionToken"], reply.json()["securityToken"])


@pytest.fixture
async def api(in_process: Any, settings: Settings) -> AsyncIterator[Api]:
    """Admin on an in-process app: real PostgreSQL staging, DuckDB warehouse, services news and sms_alerts."""
    async with _api(in_process, settings) as ready:
        yield ready


@pytest.fixture
async def api_pg(in_process: Any, settings: Settings, new_postgres_url: Callable[[], str]
                 ) -> AsyncIterator[Api]:
    """The same with a PostgreSQL warehouse (a second fresh database)."""
    url = new_postgres_url()
    async with _api(in_process, dataclasses.replace(settings, warehouse_url=url)) as ready:
        yield ready
