"""An in-process ferry app (real PostgreSQL staging, DuckDB warehouse file) with recipients synced into the
warehouse, driven through httpx's ASGI transport over SOAP and REST."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import etree

from ferry.config import Settings
from ferry.server.process.runtime import Runtime

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
LITERAL = 'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"'
RECIPIENTS = [{"email": "ann@x.com", "firstName": "Ann", "lastName": "Smith", "gender": 1},
              {"email": "bob@x.com", "firstName": "Bob", "lastName": "O'Brien", "gender": 1},
              {"email": "cid@y.org", "firstName": "Cid", "gender": 2}]


def envelope(urn: str, method: str, params: str, session: str) -> bytes:
    """A request shaped like the Adobe SDK's."""
    return ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
            f'<m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{session}</sessiontoken>'
            f'{params}</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>').encode()


def doc(xml: str, name: str = "doc") -> str:
    """A DOMDocument parameter."""
    return f'<{name} xsi:type="" {LITERAL}>{xml}</{name}>'


@dataclass
class Reply:
    """A parsed SOAP reply: its fault string, or its outputs."""

    body: bytes
    root: Any

    @property
    def fault(self) -> str | None:
        node = self.root.find(f"{{{ENV_NS}}}Body/{{{ENV_NS}}}Fault")
        return None if node is None else str(node.findtext("faultstring"))

    def output(self, name: str) -> Any:
        for element in self.root.iter():
            if isinstance(element.tag, str) and etree.QName(element).localname == name:
                return element
        raise AssertionError(f"no output {name} in {self.body.decode()}")

    def result(self, name: str = "pdomOutput") -> Any:
        """The element a DOMDocument output carries (None when empty)."""
        children = list(self.output(name))
        return children[0] if children else None


@dataclass
class Compat:
    """The client side: SOAP calls and REST requests as one operator."""

    client: httpx.AsyncClient
    runtime: Runtime
    tokens: dict[str, tuple[str, str]]
    doc = staticmethod(doc)

    async def soap(self, urn: str, method: str, params: str = "", login: str = "admin") -> Reply:
        session, security = self.tokens[login]
        reply = await self.client.post("/nl/jsp/soaprouter.jsp", content=envelope(urn, method, params, session),
                                       headers={"X-Security-Token": security})
        assert reply.status_code == 200, reply.text
        return Reply(reply.content, etree.fromstring(reply.content.replace(b"|", b"%7C")))

    async def query(self, query_def: str, login: str = "admin") -> Reply:
        return await self.soap("xtk:queryDef", "ExecuteQuery", doc(query_def, "document"), login)

    def headers(self, login: str = "admin") -> dict[str, str]:
        session, security = self.tokens[login]
        return {"Authorization": f"Bearer {session}", "X-Security-Token": security}

    async def get(self, path: str, login: str = "admin", **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers(login))

    async def post(self, path: str, login: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.headers(login), **kwargs)

    def warehouse_rows(self) -> list[dict[str, Any]]:
        schema = self.runtime.registry.get("nms:recipient")
        assert schema is not None
        return sorted(self.runtime.warehouse.read(schema), key=lambda row: str(row["email"]))


@pytest.fixture
async def compat(in_process: Any, settings: Settings) -> AsyncIterator[Compat]:
    """Admin, `ann` (ingest right on nms:recipient) and `dan` (no right on it); three recipients synced (DuckDB)."""
    async with _compat(in_process, settings) as ready:
        yield ready


@pytest.fixture
async def compat_pg(in_process: Any, settings: Settings, new_postgres_url: Callable[[], str]
                    ) -> AsyncIterator[Compat]:
    """The same, with a PostgreSQL warehouse (a second fresh database)."""
    url = new_postgres_url()
    async with _compat(in_process, dataclasses.replace(settings, warehouse_url=url)) as ready:
        yield ready


@asynccontextmanager
async def _compat(in_process: Any, settings: Settings) -> AsyncIterator[Compat]:
    async with in_process(settings) as (runtime, client):
        runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
        runtime.auth.add_operator("dan", "pw", schemas=[])
        tokens = {}
        for login, password in (("admin", "secret"), ("ann", "pw"), ("dan", "pw")):
            reply = await client.post("/api/v1/logon", json={"login": login, "password": password})
            tokens[login] = (reply.json()["sessionToken"], reply.json()["securityToken"])
        ready = Compat(client, runtime, tokens)
        staged = await ready.post("/api/v1/ingest/nms:recipient", json=RECIPIENTS)
        assert staged.status_code == 200, staged.text
        synced = await ready.post("/api/v1/sync/nms:recipient", params={"wait": "true"})
        assert synced.status_code == 200, synced.text
        assert synced.json()["runs"][0]["state"] == "succeeded"
        yield ready
