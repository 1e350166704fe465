"""`Idempotency-Key` on REST ingest: a repeat by the same operator within 24 hours stages nothing new and gets the
first answer again, on the FastAPI routes and on the ASGI fast path alike."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from ferry.config import Settings
from ferry.server.api.rest import REPLAYED_HEADER
from ferry.server.app import create_app, serving_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase

pytestmark = pytest.mark.anyio
URL = "/api/v1/ingest/nms:recipient"
EXT_URL = "/api/v1/ingest-ext/nms:recipient"


@dataclasses.dataclass
class Served:
    runtime: Runtime
    app: FastAPI
    plain: httpx.AsyncClient
    fast: httpx.AsyncClient

    async def logon(self, login: str) -> dict[str, str]:
        body = (await self.plain.post("/api/v1/logon", json={"login": login, "password": "pw"})).json()
        return {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}

    def requests(self) -> int:
        with psycopg.connect(self.runtime.db.url) as conn:
            found = conn.execute("SELECT count(*) FROM ferry.requests").fetchone()
        assert found is not None
        return int(found[0])


@pytest.fixture
async def served(staging_db: StagingDatabase, settings: Settings) -> AsyncIterator[Served]:
    runtime = Runtime(settings, db=staging_db)
    runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    runtime.auth.add_operator("bob", "pw", schemas=["nms:recipient"])
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferry") as plain, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=serving_app(app)), base_url="http://ferry") as fast:
            yield Served(runtime, app, plain, fast)
    finally:
        await runtime.stop()


@pytest.mark.parametrize("route", [URL, EXT_URL])
async def test_a_repeat_gets_the_first_answer_and_stages_nothing(served: Served, route: str) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "order-1"}
    body = [{"_key": "@email", "email": "a@x"}] if route == EXT_URL else [{"email": "a@x"}, {"email": "b@x"}]
    first = await served.fast.post(route, json=body, headers=ann)
    assert first.status_code == 200 and REPLAYED_HEADER not in first.headers
    again = await served.fast.post(route, json=body, headers=ann)
    through_routes = await served.plain.post(route, json=body, headers=ann)
    for repeat in (again, through_routes):
        assert (repeat.status_code, repeat.content) == (first.status_code, first.content)
        assert repeat.headers[REPLAYED_HEADER] == "true"
    assert served.requests() == 1


async def test_concurrent_repeats_stage_once_and_all_get_the_same_answer(served: Served) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "burst"}
    replies = await asyncio.gather(*(client.post(URL, json={"email": "c@x"}, headers=ann)
                                     for client in (served.fast, served.plain) * 4))
    assert {reply.status_code for reply in replies} == {200}
    assert len({reply.content for reply in replies}) == 1
    assert sum(1 for reply in replies if REPLAYED_HEADER in reply.headers) == 7
    assert served.requests() == 1


async def test_a_key_reused_for_a_different_request_is_refused(served: Served) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "k"}
    assert (await served.fast.post(URL, json={"email": "d@x"}, headers=ann)).status_code == 200
    for route, body in ((URL, {"email": "other@x"}), (EXT_URL, {"_key": "@email", "email": "d@x"})):
        for client in (served.fast, served.plain):
            refused = await client.post(route, json=body, headers=ann)
            assert refused.status_code == 422 and refused.json()["error"]["code"] == "FRY-600018"
    assert served.requests() == 1


async def test_keys_are_per_operator(served: Served) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "shared"}
    bob = {**await served.logon("bob"), "Idempotency-Key": "shared"}
    first = await served.fast.post(URL, json={"email": "e@x"}, headers=ann)
    other = await served.fast.post(URL, json={"email": "e@x"}, headers=bob)
    assert first.status_code == other.status_code == 200 and first.content != other.content
    assert REPLAYED_HEADER not in other.headers
    assert served.requests() == 2


async def test_a_key_older_than_24_hours_is_forgotten(served: Served) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "old"}
    first = await served.fast.post(URL, json={"email": "f@x"}, headers=ann)
    with psycopg.connect(served.runtime.db.url, autocommit=True) as conn:
        conn.execute("UPDATE ferry.idempotency SET created_at = now() - interval '25 hours'")
    again = await served.fast.post(URL, json={"email": "f@x"}, headers=ann)
    assert again.status_code == 200 and again.content != first.content and REPLAYED_HEADER not in again.headers
    assert served.requests() == 2
    with psycopg.connect(served.runtime.db.url) as conn:
        rows = conn.execute("SELECT count(*) FROM ferry.idempotency").fetchone()
    assert rows == (1,)  # the expired one was purged when the key came back


async def test_a_refused_call_keeps_no_key(served: Served) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": "bad-then-good"}
    refused = await served.fast.post(URL, json={"email": "g@x", "nope": 1}, headers=ann)
    assert refused.status_code == 422
    accepted = await served.fast.post(URL, json={"email": "g@x"}, headers=ann)
    assert accepted.status_code == 200 and REPLAYED_HEADER not in accepted.headers
    assert served.requests() == 1


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_an_unusable_key_is_a_bad_request(served: Served, key: str) -> None:
    ann = {**await served.logon("ann"), "Idempotency-Key": key}
    for client in (served.fast, served.plain):
        refused = await client.post(URL, json={"email": "h@x"}, headers=ann)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "FRY-600010"
    assert served.requests() == 0
