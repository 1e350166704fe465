"""Console fixtures: the real app on a fresh staging database, operators, and a logged-in httpx client helper."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from ferry.config import Settings
from ferry.schema.model import Schema
from ferry.server.app import create_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase
from outcome_fakes import record_outcome


def _recipient(db: StagingDatabase) -> Schema:
    schema = db.registry.get("nms:recipient")
    assert schema is not None
    return schema


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    client: httpx.AsyncClient
    runtime: Runtime

    async def login(self, login: str, password: str = "pw") -> str:
        """Log in through the form; returns the session's CSRF token."""
        page = await self.client.get("/console/login")
        token = CSRF.search(page.text)
        assert token is not None
        reply = await self.client.post("/console/login", data={"login": login, "password": password,
                                                               "csrf": token.group(1)})
        assert reply.status_code == 303, reply.text
        overview = await self.client.get("/console")
        assert overview.status_code == 200
        found = CSRF.search(overview.text)
        assert found is not None
        return found.group(1)

    async def ingest(self, records: list[dict[str, Any]]) -> list[str]:
        """Stage records into nms:recipient through the REST API as admin; returns the new UUIDs."""
        logon = await self.client.post("/api/v1/logon", json={"login": "root", "password": "pw"})
        body = logon.json()
        headers = {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}
        reply = await self.client.post("/api/v1/ingest/nms:recipient", json=records, headers=headers)
        assert reply.status_code == 200, reply.text
        result: str = reply.json()["result"]
        return [part for part in result.split(",") if part]

    def fail_row(self, row_uuid: str, reason: str = "poison row for the test") -> None:
        """Mark one staged row failed, as the sync does with a row the warehouse rejects."""
        record_outcome(self.runtime.db.url, _recipient(self.runtime.db), row_uuid, "failed", reason)

    def row_state(self, row_uuid: str) -> tuple[str, str | None]:
        """The row's state and reason."""
        with psycopg.connect(self.runtime.db.url) as conn:
            row = conn.execute("SELECT _state, _reason FROM ferry.rows_nms_recipient WHERE _uuid = %s "
                               "ORDER BY _seq DESC LIMIT 1", (row_uuid,)).fetchone()
        assert row is not None
        return row[0], row[1]

    @staticmethod
    def csrf(html: str) -> str:
        """The first form token on a page."""
        found = CSRF.search(html)
        assert found is not None
        return found.group(1)


@pytest.fixture
async def console(staging_db: StagingDatabase, settings: Settings) -> AsyncIterator[Console]:
    runtime = Runtime(settings, db=staging_db)
    runtime.auth.add_operator("root", "pw", admin=True)
    runtime.auth.add_operator("viewer", "pw", schemas=["nms:recipient"])
    app = create_app(runtime)
    await runtime.start()  # ASGITransport does not run the lifespan
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferry") as client:
            yield Console(client, runtime)
    finally:
        await runtime.stop()
