"""Security fixtures: the real app in process with `dem:sampleTable` applied, service `news`, and three operators:
`nobody` (no right), `ops1` (`--schema dem:sampleTable`, as in issue 15) and `admin`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from ferry.config import Settings
from ferry.schema.loader import load_schema_file, parse_schema
from ferry.server.app import create_app, serving_app
from ferry.server.console.session import COOKIE, csrf_for
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase
from ferry.subscriptions import services
from ferry.workflows import definitions
from ferry.workflows.schedule import Schedule

PASSWORD = "pw-Secret-1"
OPERATORS = ("nobody", "ops1", "admin")
SOAP_HEAD = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><SOAP-ENV:Body>')


def soap_envelope(urn: str, method: str, params: str = "", session: str = "") -> bytes:
    """A call shaped like the Adobe SDK's."""
    return (f'{SOAP_HEAD}<m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{session}'
            f'</sessiontoken>{params}</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>').encode()


@dataclass
class Tokens:
    session: str
    security: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}", "X-Security-Token": self.security}

    @property
    def console_cookie(self) -> str:
        return f"{COOKIE}={self.session}|{self.security}"

    @property
    def csrf(self) -> str:
        return csrf_for(self.security)


@dataclass
class Site:
    client: httpx.AsyncClient
    runtime: Runtime
    app: FastAPI
    db: StagingDatabase
    sessions: dict[str, Tokens] = field(default_factory=dict)

    async def logon(self, login: str, password: str = PASSWORD) -> Tokens:
        reply = await self.client.post("/api/v1/logon", json={"login": login, "password": password})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        return Tokens(body["sessionToken"], body["securityToken"])

    async def tokens(self, login: str) -> Tokens:
        if login not in self.sessions:
            self.sessions[login] = await self.logon(login)
        return self.sessions[login]

    async def soap(self, urn: str, method: str, params: str = "", tokens: Tokens | None = None,
                   **headers: str) -> httpx.Response:
        session = tokens.session if tokens else ""
        extra = {"X-Security-Token": tokens.security} if tokens else {}
        return await self.client.post("/nl/jsp/soaprouter.jsp", content=soap_envelope(urn, method, params, session),
                                      headers={"Content-Type": "text/xml", "SOAPAction": f"{urn}#{method}",
                                               **extra, **headers})

    def counts(self) -> dict[str, int]:
        """Rows of every staging table and of ferry.requests: unchanged means nothing was staged."""
        with psycopg.connect(self.db.url) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
                "WHERE table_schema = 'ferry_stg' ORDER BY 1")]
            found = {name: int(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
                     for name in [*tables, "ferry.requests"]}
        return found


# Typed attributes for the hostile values of issue 27 (lax numbers, datetimes past the year range).
TYPED_SCHEMA = ('<srcSchema namespace="tst" name="typed"><element name="typed" autoStg="true">'
                '<attribute name="n" type="long"/><attribute name="f" type="float"/>'
                '<attribute name="at" type="datetime"/></element></srcSchema>')


def sample_schema(db: StagingDatabase) -> None:
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    db.catalog.apply(load_schema_file(sample))
    db.catalog.apply(parse_schema(TYPED_SCHEMA))
    db.reload_schemas()


@pytest.fixture
def site_settings() -> dict[str, Any]:
    """Settings a test overrides (dataclasses.replace on the defaults)."""
    return {}


@pytest.fixture
async def site(staging_db: StagingDatabase, settings: Settings, site_settings: dict[str, Any]) -> AsyncIterator[Site]:
    """The app as `ferry serve` runs it (fast paths first), in process."""
    sample_schema(staging_db)
    services.add(staging_db.pool, "news", label="Newsletter", channel="email")
    services.add(staging_db.pool, "spare", label="Spare", channel="email")
    runtime = Runtime(dataclasses.replace(settings, **site_settings), db=staging_db)
    runtime.auth.add_operator("nobody", PASSWORD)
    runtime.auth.add_operator("ops1", PASSWORD, schemas=["dem:sampleTable"])
    runtime.auth.add_operator("admin", PASSWORD, admin=True)
    # Workflow scripts: one running as ops1 (ops1 and admins see it), one with every right (admins only).
    hourly = Schedule(every_seconds=3600)
    definitions.add(staging_db.pool, "opsflow", "logInfo(1);", schedule=hourly, operator_login="ops1")
    definitions.add(staging_db.pool, "adminflow", "logInfo(1);", schedule=hourly)
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=serving_app(app)),
                                     base_url="http://ferry.test") as client:
            yield Site(client, runtime, app, staging_db)
    finally:
        await runtime.stop()
