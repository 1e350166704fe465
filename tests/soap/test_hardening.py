"""Body size, record count and big documents through the in-process app (the limits also run in e2e tests)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ferry.server.api import soap as soap_routes

pytestmark = pytest.mark.anyio

LIMIT = 20_000


@pytest.fixture
def limits() -> dict[str, Any]:
    return {"max_body_bytes": LIMIT, "max_records_per_call": 50}


class Chunks:
    """A streamed body of `count` chunks that records how many the server pulled."""

    def __init__(self, head: bytes, count: int, size: int = 4096) -> None:
        self.head, self.count, self.size, self.pulled = head, count, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        for _ in range(self.count):
            self.pulled += 1
            yield b" " * self.size


async def test_streamed_soap_body_over_limit(soap: Any) -> None:
    body = Chunks(b"<SOAP-ENV:Envelope>", 1000)
    reply = await soap.client.post("/nl/jsp/soaprouter.jsp", content=body)
    assert reply.status_code == 413
    assert b"<faultstring xsi:type='xsd:string'>FRY-600008 " in reply.content
    assert body.pulled < 10  # stopped reading right after the limit, not at the end of 4 MB
    assert soap.rows() == []


async def test_declared_length_over_limit(soap: Any) -> None:
    reply = await soap.client.post("/nl/jsp/soaprouter.jsp", content=b"x" * (LIMIT + 1))
    assert reply.status_code == 413 and b"FRY-600008 the request body is 20001 bytes" in reply.content
    rest = await soap.client.post("/api/v1/ingest/dem:sampleTable", content=b"[" + b" " * LIMIT + b"]",
                                  headers={"Content-Type": "application/json"})
    assert rest.status_code == 413 and rest.json()["error"]["code"] == "FRY-600008"


async def test_streamed_rest_body_over_limit(soap: Any) -> None:
    session, security = await soap.logon()
    body = Chunks(b"[", 1000)
    reply = await soap.client.post("/api/v1/ingest/dem:sampleTable", content=body,
                                   headers={"Content-Type": "application/json", "X-Session-Token": session,
                                            "X-Security-Token": security})
    assert reply.status_code == 413, reply.text
    assert body.pulled < 10


async def test_record_count_limit(soap: Any) -> None:
    session, security = await soap.logon()
    records = "".join(f'<sampleTable testcol1="r{i}"/>' for i in range(51))
    reply = await soap.call("xtk:session", "Ingest", soap.doc(
        f'<sampleTable-collection xtkschema="dem:sampleTable">{records}</sampleTable-collection>'),
        session=session, security=security)
    assert reply.fault is not None and "FRY-100015" in reply.fault
    assert soap.rows() == []


async def test_big_collection_goes_through_the_thread_path(soap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session, security = await soap.logon()
    monkeypatch.setattr(soap_routes, "THREAD_BODY_BYTES", 1000)
    filler = "x" * 250
    records = "".join(f'<sampleTable testcol1="r{i}" testcol2="{filler}"/>' for i in range(40))
    body = soap.envelope("xtk:session", "Ingest", soap.doc(
        f'<sampleTable-collection xtkschema="dem:sampleTable">{records}</sampleTable-collection>'), session)
    assert len(body) > 1000
    reply = await soap.post(body, {"X-Security-Token": security})
    assert reply.status == 200
    uuids = reply.output("pstrSUuids").text.split(",")
    assert len(uuids) == 40 and all(re.fullmatch(r"[0-9a-f-]{36}", u) for u in uuids)
    assert [row[2] for row in soap.rows()] == [f"r{i}" for i in range(40)]
