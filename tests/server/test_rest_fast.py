"""The REST ingest fast path answers byte for byte as the FastAPI routes do, and only serves what they serve."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ferry.config import Settings
from ferry.ingest import Method, RawRecord, build_call
from ferry.schema.loader import load_schema_file
from ferry.schema.model import Attribute, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import AttrType
from ferry.server.api.ingest import _ingest_reply, match
from ferry.server.api.metrics import metrics_of
from ferry.server.app import create_app, serving_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase
from session_confirms import ConfirmQueries

pytestmark = pytest.mark.anyio
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclasses.dataclass
class Pair:
    """One runtime, served twice: by the FastAPI app alone and by `serving_app` (fast path first)."""

    runtime: Runtime
    app: FastAPI
    plain: httpx.AsyncClient
    fast: httpx.AsyncClient

    async def logon(self, login: str) -> dict[str, str]:
        body = (await self.plain.post("/api/v1/logon", json={"login": login, "password": "pw"})).json()
        return {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}


@pytest.fixture
async def pair(staging_db: StagingDatabase, settings: Settings) -> AsyncIterator[Pair]:
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    staging_db.catalog.apply(load_schema_file(sample))
    staging_db.reload_schemas()
    runtime = Runtime(dataclasses.replace(settings, max_body_bytes=3000, max_records_per_call=10), db=staging_db)
    runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    runtime.auth.add_operator("root", "pw", admin=True)
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferry") as plain, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=serving_app(app)), base_url="http://ferry") as fast:
            yield Pair(runtime, app, plain, fast)
    finally:
        await runtime.stop()


def shape(reply: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body with UUIDs (request ids, record ids) blanked."""
    # X-Request-Id comes from the door `serving_app` puts around both paths (ferry.server.door.request_id).
    headers = [(name, UUID.sub(b"U", value.encode()).decode()) for name, value in reply.headers.multi_items()
               if name != "x-request-id"]
    return reply.status_code, headers, UUID.sub(b"U", reply.content)


async def both(pair: Pair, *args: Any, **kwargs: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    plain = await pair.plain.post(*args, **kwargs)
    fast = await pair.fast.post(*args, **kwargs)
    assert shape(plain) == shape(fast), (plain.content, fast.content)
    return shape(fast)


def cases(ann: dict[str, str], root: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    ndjson = {**ann, "Content-Type": "application/x-ndjson"}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x", "firstName": "Ann"}, "headers": ann}
    yield "/api/v1/ingest/nms:recipientStg", {"json": [{"_key": "@email", "email": "b@x"}], "headers": ann}
    yield "/api/v1/ingest-ext/nms:recipient", {"json": [{"_key": "@email", "_operation": "delete", "email": "b@x"},
                                                        {"_key": "@email", "email": "c@x"}], "headers": ann}
    yield "/api/v1/ingest/nms:recipient", {"content": b'{"email": "d@x"}\n\n{"email": "e@x"}\n', "headers": ndjson}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"}}  # no tokens
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"}, "headers": {"Authorization": ann["Authorization"]}}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"},
                                           "headers": {**ann, "Authorization": "Bearer ___forged"}}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"},
                                           "headers": {**ann, "Authorization": "Basic " + ann["Authorization"][7:]}}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"}, "headers": {
        "X-Session-Token": ann["Authorization"][7:], "X-Security-Token": ann["X-Security-Token"]}}
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x"}, "headers": {
        "Cookie": f"other=1; __sessiontoken={ann['Authorization'][7:]}", "X-Security-Token": ann["X-Security-Token"]}}
    yield "/api/v1/ingest/dem:sampleTable", {"json": {"testcol1": "x"}, "headers": ann}  # no right: 403
    yield "/api/v1/ingest/nms:nothing", {"json": {"a": 1}, "headers": ann}  # 404
    yield "/api/v1/ingest-ext/nothing", {"json": {"a": 1}, "headers": root}  # 404
    yield "/api/v1/ingest/nms:recipient", {"content": b"{nope", "headers": {**ann, "Content-Type": "application/json"}}
    yield "/api/v1/ingest/nms:recipient", {"content": b"a=1", "headers": {**ann, "Content-Type": "text/plain"}}
    yield "/api/v1/ingest/nms:recipient", {"json": [], "headers": ann}
    yield "/api/v1/ingest/nms:recipient", {"json": 42, "headers": ann}
    yield "/api/v1/ingest/nms:recipient", {"json": [{"email": "a@x"}, {"gender": "x"}], "headers": ann}  # 422
    yield "/api/v1/ingest/nms:recipient", {"json": {"email": "a@x", "nope": 1}, "headers": ann}
    yield "/api/v1/ingest/nms:recipient", {"json": [{"email": "a@x", "xtkschema": "dem:sampleTable"}], "headers": ann}
    yield "/api/v1/ingest-ext/nms:recipient", {"json": {"firstName": "x"}, "headers": ann}  # no key
    yield "/api/v1/ingest/nms:recipient", {"json": [{"email": f"{i}@x"} for i in range(11)], "headers": ann}
    yield "/api/v1/ingest/nms:recipient", {"content": b"[" + b'{"email": "a@x"},' * 300 + b"{}]",
                                           "headers": {**ann, "Content-Type": "application/json"}}  # 413 declared
    yield "/api/v1/ingest/nms:recipient", {"content": b'{"email": "\\u00e9@x"}', "headers": ndjson}


async def test_every_answer_is_the_same_through_both(pair: Pair) -> None:
    ann, root = await pair.logon("ann"), await pair.logon("root")
    seen = set()
    for url, kwargs in cases(ann, root):
        status, _, body = await both(pair, url, **kwargs)
        seen.add(status)
        if status == 413 and "content" in kwargs:
            assert json.loads(body)["error"]["code"] == "FRY-600008"
    assert seen == {200, 400, 401, 403, 404, 413, 415, 422}


async def test_a_body_streamed_past_the_limit_is_the_same_413(pair: Pair) -> None:
    ann = await pair.logon("ann")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length
        yield b"[" + b'{"email": "a@x"},' * 200
        yield b'{"email": "b@x"}]'

    plain = await pair.plain.post("/api/v1/ingest/nms:recipient", content=chunks(), headers=ann)
    fast = await pair.fast.post("/api/v1/ingest/nms:recipient", content=chunks(), headers=ann)
    assert plain.status_code == 413 and shape(plain) == shape(fast)


async def test_sessions_logged_off_elsewhere_are_refused_through_both_whatever_the_call(pair: Pair) -> None:
    ann, root = await pair.logon("ann"), await pair.logon("root")
    for headers in (ann, root):  # both sessions cached on the fast path (and confirmed by the write)
        assert (await pair.fast.post("/api/v1/ingest/nms:recipient", json={"email": "w@x"},
                                     headers=headers)).status_code == 200
    confirms = ConfirmQueries(pair.runtime.auth.revocations)
    assert (await pair.fast.post("/api/v1/ingest/nms:recipient", json={"email": "v@x"},
                                 headers=ann)).status_code == 200
    assert confirms.count == 0  # the write that staged the call confirmed the session: no query of its own
    for replayed in ("", "true"):  # with an Idempotency-Key the session is confirmed first (a replay writes nothing)
        first = await pair.fast.post("/api/v1/ingest/nms:recipient", json={"email": "k@x"},
                                     headers={**ann, "Idempotency-Key": "k0"})
        assert first.status_code == 200 and first.headers.get("Idempotent-Replayed", "") == replayed
    assert confirms.count == 2
    with pair.runtime.db.pool.connection() as conn:
        before = conn.execute("SELECT count(*) FROM ferry.requests").fetchone()
        conn.execute("UPDATE ferry.sessions SET revoked_at = now()")  # another server's logoffs
    statuses = set()
    for url, kwargs in cases(ann, root):
        status, _, body = await both(pair, url, **kwargs)
        statuses.add(status)
        assert status == 401 or (status == 413 and "content" in kwargs), (url, kwargs, body)
    keyed = {**ann, "Idempotency-Key": "k1"}
    status, _, _ = await both(pair, "/api/v1/ingest/nms:recipient", json={"email": "k@x"}, headers=keyed)
    assert statuses == {401, 413} and status == 401
    with pair.runtime.db.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM ferry.requests").fetchone() == before


async def test_the_rate_limit_answers_the_same_429(pair: Pair) -> None:
    pair.runtime.auth._buckets.rate = 1.0  # one call per second, a burst of one
    pair.runtime.auth._buckets.capacity = 1.0
    for client in (pair.plain, pair.fast):
        headers = await pair.logon("root")
        statuses = []
        for index in range(3):
            reply = await client.post("/api/v1/ingest/nms:recipient", json={"email": f"{index}@x"}, headers=headers)
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                assert reply.json()["error"]["code"] == "FRY-600004" and int(reply.headers["Retry-After"]) >= 1
        assert 429 in statuses
        pair.runtime.auth._buckets._buckets.clear()


async def test_both_count_the_same_metrics(pair: Pair) -> None:
    ann, root = await pair.logon("ann"), await pair.logon("root")
    metrics = metrics_of(pair.app)
    assert metrics is not None

    def counts() -> dict[str, float]:
        return {f"{sample.name}{sorted(sample.labels.items())}": sample.value
                for family in metrics.registry.collect() if family.name.startswith(("ferry_calls", "ferry_records",
                                                                                    "ferry_refusals"))
                for sample in family.samples if sample.name.endswith("_total")}

    before = counts()
    for url, kwargs in cases(ann, root):
        await pair.plain.post(url, **kwargs)
    after_plain = counts()
    for url, kwargs in cases(ann, root):
        await pair.fast.post(url, **kwargs)
    after_fast = counts()
    for key in set(after_plain) | set(after_fast):
        assert after_fast.get(key, 0) - after_plain.get(key, 0) == after_plain.get(key, 0) - before.get(key, 0), key


KEYED = {"_key": "@email", "email": "a@x"}
PROBES = [
    ("POST", "/api/v1/ingest/nms:recipient"), ("POST", "/api/v1/ingest-ext/nms:recipientStg"),
    ("POST", "/api/v1/ingest/a%20b"), ("POST", "/api/v1/ingest/"),
    ("POST", "/api/v1/ingest/nms:recipient/"), ("POST", "/api/v1/ingest/nms:recipient/x"),
    ("GET", "/api/v1/ingest/nms:recipient"), ("POST", "/api/v1/ingest"), ("POST", "/api/v1/ingestx/y"),
    ("POST", "/api/v1/ingest-ext/"), ("PUT", "/api/v1/ingest/nms:recipient"), ("POST", "/api/v1/logon"),
    ("POST", "/api/v2/ingest/nms:recipient"), ("POST", "/api/v1/ingest/nms%3Arecipient"),
]


async def test_the_fast_path_takes_exactly_the_requests_the_ingest_routes_serve(pair: Pair) -> None:
    root = await pair.logon("root")
    metrics = metrics_of(pair.app)
    assert metrics is not None

    def served_by() -> dict[tuple[str, str], float]:
        return {(sample.labels["method"], sample.labels["outcome"]): sample.value
                for family in metrics.registry.collect() if family.name == "ferry_calls"
                for sample in family.samples if sample.name.endswith("_total")}

    for method, path in PROBES:
        before = served_by()
        plain = await pair.plain.request(method, path, json=KEYED, headers=root)
        after = served_by()
        routes = {name for (name, _), value in after.items() if value != before.get((name, _), 0)}
        fast = await pair.fast.request(method, path, json=KEYED, headers=root)
        assert shape(plain) == shape(fast), path
        decoded = httpx.URL("http://ferry" + path).path
        taken = match({"type": "http", "method": method, "path": decoded, "root_path": ""})
        ingest = routes & {"ingest", "ingest_ext"}
        assert (taken[1] if taken else None) == (ingest.pop() if ingest else None), (method, path, routes)
        if taken is not None and "recipient" in path:
            assert plain.status_code == 200, (path, plain.content)
            assert json.loads(plain.content)["schema"] == "nms:recipient"
            assert taken[2] == "nms:recipient" + ("Stg" if "Stg" in path else "")


def test_double_slashes_and_root_paths_route_as_the_app_routes_them() -> None:
    scope = {"type": "http", "method": "POST", "root_path": ""}
    assert match({**scope, "path": "//api/v1/ingest/nms:recipient"}) == match(
        {**scope, "path": "/api/v1/ingest/nms:recipient"}) is not None
    mounted = {**scope, "root_path": "/ferry", "path": "/ferry/api/v1/ingest-ext/nms:recipient"}
    assert match(mounted) is not None and match(mounted)[2] == "nms:recipient"  # type: ignore[index]


def test_the_ingest_reply_has_the_bytes_json_response_would_render() -> None:
    schema = Schema(namespace="cus", name="r", auto_stg=True,
                    attributes=(Attribute("id", AttrType.STRING, 255), Attribute("s", AttrType.STRING, 9)))
    registry = SchemaRegistry([schema])
    ids = ["plain", "é ü ☃ 𝄞", 'q"uo\\te', "tab\tnl\ncr\rff\fbs\b", "\x01\x1f\x7f", "\u2028\u2029", "<&>'"]
    call = build_call(registry, Method.INGEST, [RawRecord(i + 1, "cus:r", {"id": value}, None, None)
                                                for i, value in enumerate(ids)] +
                      [RawRecord(len(ids) + 1, "cus:r", {"s": "x"}, "@s", None)])
    reply = _ingest_reply(call)
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == JSONResponse(json.loads(reply.body)).body
    assert json.loads(reply.body)["result"] == ",".join(ids)
