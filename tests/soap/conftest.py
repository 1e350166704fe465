"""An in-process ferry app (real PostgreSQL staging) driven through httpx's ASGI transport."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from lxml import etree

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.server.process.runtime import Runtime

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SDK_HEAD = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://xml.apache.org/xml-soap">'
            '<SOAP-ENV:Header/><SOAP-ENV:Body>')
SDK_TAIL = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
LITERAL = 'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"'


def envelope(urn: str, method: str, params: str, session: str = "") -> bytes:
    """A request shaped like the Adobe SDK's (§2 of the reference)."""
    token = f'<sessiontoken xsi:type="xsd:string">{session}</sessiontoken>' if session \
        else '<sessiontoken xsi:type="xsd:string"/>'
    return (f'{SDK_HEAD}<m:{method} xmlns:m="urn:{urn}" '
            f'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">{token}{params}'
            f'</m:{method}>{SDK_TAIL}').encode()


def doc(xml: str, name: str = "doc") -> str:
    """A DOMDocument parameter holding `xml`."""
    return f'<{name} xsi:type="" {LITERAL}>{xml}</{name}>'


@dataclass
class Reply:
    status: int
    body: bytes
    root: Any

    @property
    def fault(self) -> str | None:
        node = self.root.find(f"{{{ENV_NS}}}Body/{{{ENV_NS}}}Fault") if self.root is not None else None
        return None if node is None else node.findtext("faultstring")

    def output(self, name: str) -> Any:
        body = self.root.find(f"{{{ENV_NS}}}Body")
        for el in body.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == name:
                return el
        raise AssertionError(f"no output {name} in {self.body.decode()}")


@dataclass
class Soap:
    client: httpx.AsyncClient
    runtime: Runtime
    db_url: str
    envelope = staticmethod(envelope)
    doc = staticmethod(doc)

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        reply = await self.client.post("/nl/jsp/soaprouter.jsp", content=body, headers=headers or {})
        # lxml refuses `|` in a namespace name (`urn:xtk:persist|xtk:session`); the SDK's jsdom does not.
        text = reply.content.replace(b"|", b"%7C")
        root = etree.fromstring(text) if reply.content.startswith((b"<?xml", b"<SOAP-ENV:")) else None
        return Reply(reply.status_code, reply.content, root)

    async def call(self, urn: str, method: str, params: str = "", *, session: str = "",
                   security: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        extra = dict(headers or {})
        if security is not None:
            extra["X-Security-Token"] = security
        return await self.post(envelope(urn, method, params, session), extra)

    async def logon(self, login: str = "admin", password: str = "secret") -> tuple[str, str]:
        reply = await self.call("xtk:session", "Logon", f'<login xsi:type="xsd:string">{login}</login>'
                                f'<password xsi:type="xsd:string">{password}</password>')
        assert reply.fault is None, reply.body
        return reply.output("pstrSessionToken").text, reply.output("pstrSecurityToken").text

    def rows(self, table: str = "ferry_stg.dem_sampletable", columns: str = "_op, id, testcol1, testcol2") -> list[Any]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(f"SELECT {columns} FROM {table} ORDER BY _seq").fetchall()


@pytest.fixture
def limits() -> dict[str, Any]:
    return {}


@pytest.fixture
async def soap(in_process: Any, settings: Settings, limits: dict[str, Any]) -> AsyncIterator[Soap]:
    tuned = dataclasses.replace(settings, **limits)
    async with in_process(tuned) as (runtime, client):
        sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
        runtime.db.catalog.apply(load_schema_file(sample))
        runtime.db.reload_schemas()
        runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
        runtime.auth.add_operator("bob", "pw", schemas=["dem:sampleTable"])
        yield Soap(client, runtime, tuned.database_url or "")
