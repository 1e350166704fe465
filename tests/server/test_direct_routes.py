"""The ingest routes the HTTP protocol serves itself answer byte for byte as the ASGI path does, and only them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.server.app import create_app, serving_app
from ferry.server.door.protocol import GuardedHttpToolsProtocol
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase

pytestmark = pytest.mark.anyio
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NEW_REQUEST_ID = re.compile(rb"x-request-id: [0-9a-f]{32}\r\n")
LENGTH = re.compile(rb"content-length: \d+\r\n")
RECORD_ID = re.compile(rb'"id":"\d+"')
SOAP_HEAD = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><SOAP-ENV:Body>')
SOAP = "/nl/jsp/soaprouter.jsp"
REST = "/api/v1/ingest/nms:recipient"


def envelope(method: str, params: str = "", session: str = "", urn: str = "xtk:session") -> bytes:
    """A call shaped like the Adobe SDK's."""
    return (f'{SOAP_HEAD}<m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{session}'
            f'</sessiontoken>{params}</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>').encode()


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
            version: str = "1.1", length: bool = True) -> bytes:
    """One raw HTTP request."""
    lines = [f"{method} {path} HTTP/{version}", "Host: ferry"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if length and (body or method == "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Transport:
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Plain:
    """The served app without its `direct` routes: the protocol then takes the ASGI path for everything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class Counted:
    """The ASGI app below the door, counting the requests that reach it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@dataclasses.dataclass
class Door:
    """One runtime; raw requests go through the guarded protocol with and without the direct routes."""

    runtime: Runtime
    served: Any
    settings: Settings

    async def exchange(self, app: Any, raw: bytes) -> tuple[bytes, bool]:
        """Everything written back for `raw` (sent at once), and whether the server closed the connection."""
        config = Config(app=app, http="httptools", proxy_headers=False, log_config=None)
        config.load()
        state = ServerState()
        state.default_headers = [(b"date", b"Mon, 07 Dec 2026 12:00:00 GMT")]
        protocol = GuardedHttpToolsProtocol.configure(self.settings)(
            config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop())
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(raw)
        while protocol.tasks:
            await asyncio.gather(*list(protocol.tasks))
        closed = transport.closed
        protocol.connection_lost(None)
        return b"".join(transport.writes), closed

    async def both(self, raw: bytes) -> tuple[bytes, bool]:
        """The normalized answer, the same through the ASGI path and the direct one (asserted)."""
        plain = await self.exchange(Plain(self.served), raw)
        direct = await self.exchange(self.served, raw)
        assert shape(*plain) == shape(*direct), (plain, direct)
        return shape(*direct)

    async def logon(self, login: str) -> tuple[str, str]:
        answer, _ = await self.exchange(self.served, request("POST", "/api/v1/logon", {
            "Content-Type": "application/json"}, json.dumps({"login": login, "password": "pw"}).encode()))
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        return body["sessionToken"], body["securityToken"]


def shape(answer: bytes, closed: bool) -> tuple[bytes, bool]:
    """The answer with what differs from call to call blanked: new ids, record ids, UUIDs, their lengths."""
    for head, _ in _responses(answer):
        match = LENGTH.search(head)
        assert match is not None or b"transfer-encoding" in head or b" 100 " in head.split(b"\r\n", 1)[0]
    answer = NEW_REQUEST_ID.sub(b"x-request-id: N\r\n", answer)
    return LENGTH.sub(b"content-length: L\r\n", RECORD_ID.sub(b'"id":"I"', UUID.sub(b"U", answer))), closed


def _responses(answer: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(head, rest) of each response in `answer` (enough to check every head has its length)."""
    rest = answer
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        match = LENGTH.search(head)
        if match is not None:
            size = int(match.group(0).split(b": ")[1])
            rest = rest[size:]
        elif b"transfer-encoding" in head:
            rest = b""
        yield head, rest


@pytest.fixture
async def door(staging_db: StagingDatabase, settings: Settings) -> AsyncIterator[Door]:
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    staging_db.catalog.apply(load_schema_file(sample))
    staging_db.reload_schemas()
    limited = dataclasses.replace(settings, max_body_bytes=3000, max_records_per_call=10)
    runtime = Runtime(limited, db=staging_db)
    runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    runtime.auth.add_operator("root", "pw", admin=True)
    app = create_app(runtime)
    await runtime.start()
    try:
        yield Door(runtime, serving_app(app), limited)
    finally:
        await runtime.stop()


RECORD = '<recipient xtkschema="nms:recipient" email="{}@x" firstName="Ann"/>'


def soap_cases(session: str, security: str) -> Iterator[bytes]:
    sec = {"Content-Type": "text/xml", "X-Security-Token": security}
    doc = f"<domDoc>{RECORD.format('a')}</domDoc>"
    yield request("POST", SOAP, sec, envelope("Ingest", doc, session))
    yield request("POST", SOAP, {**sec, "X-Session-Token": session}, envelope("Ingest", doc))
    yield request("POST", SOAP, {**sec, "Cookie": f"__sessiontoken={session}"}, envelope("Ingest", doc))
    yield request("POST", SOAP, {"Content-Type": "text/xml"}, envelope("Ingest", doc, session))  # no security token
    yield request("POST", SOAP, sec, envelope("Ingest", doc, "___forged"))
    yield request("POST", SOAP, sec, envelope("Ingest", doc))  # no session
    yield request("POST", SOAP, sec, envelope("Ingest", doc, session, urn="xtk:persist|xtk:session"))
    yield request("POST", SOAP, sec, envelope("IngestExt", '<domDoc><recipient xtkschema="nms:recipient" '
                                              '_key="@email" email="a@x" firstName="Bo"/></domDoc>', session))
    yield request("POST", SOAP, sec, envelope("Ingest", '<domDoc><recipient xtkschema="nms:recipient" nope="1"/>'
                                              '</domDoc>', session))
    yield request("POST", SOAP, sec, envelope("Ingest", '<domDoc><sampleTable xtkschema="dem:sampleTable" '
                                              'testcol1="x"/></domDoc>', session))  # no right
    yield request("POST", SOAP, sec, envelope("Ingest", "<domDoc/>", session))
    yield request("POST", SOAP, sec, envelope("Nope", "", session))
    yield request("POST", SOAP, sec, envelope("GetServerTime", "", session).replace(b"<sessiontoken", b"<x"))
    yield request("POST", SOAP, sec, b"")
    yield request("POST", SOAP, sec, b"<not-closed>")
    yield request("POST", SOAP, sec, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>')
    yield request("POST", SOAP, sec, envelope("Ingest", doc, session).decode().encode("utf-16"))
    yield request("POST", SOAP, sec, envelope("Ingest", "<domDoc>" + RECORD.format("b") * 11 + "</domDoc>", session))
    yield request("POST", SOAP, sec, b"<x>" + b"y" * 4000 + b"</x>")  # 413 from Content-Length
    yield request("POST", "//nl/jsp/soaprouter.jsp", sec, envelope("Ingest", doc, session))
    yield request("POST", SOAP + "?x=1", sec, envelope("Ingest", doc, session))
    yield request("POST", SOAP, {**sec, "X-Request-Id": "given-id.1"}, envelope("Ingest", doc, session))
    yield request("POST", SOAP, {**sec, "X-Request-Id": "not sane!"}, envelope("Ingest", doc, session))
    yield request("POST", SOAP, {**sec, "Connection": "close"}, envelope("Ingest", doc, session))
    yield request("POST", SOAP, sec, envelope("Ingest", doc, session), version="1.0")
    yield request("POST", SOAP, {**sec, "Expect": "100-continue"}, envelope("Ingest", doc, session))
    yield request("POST", SOAP, {**sec, "Transfer-Encoding": "chunked"},
                  b"%x\r\n%s\r\n0\r\n\r\n" % (len(envelope("Ingest", doc, session)), envelope("Ingest", doc, session)),
                  length=False)
    # two calls pipelined on one connection, then one more after a keep-alive
    yield request("POST", SOAP, sec, envelope("Ingest", doc, session)) * 2 + request("POST", REST, {
        "Content-Type": "application/json", "Authorization": f"Bearer {session}", "X-Security-Token": security},
        b'{"email": "p@x"}')
    yield request("GET", SOAP, sec)
    yield request("HEAD", SOAP, sec)
    yield request("PUT", SOAP, sec, envelope("Ingest", doc, session))
    yield request("POST", "/nl/jsp/schemawsdl.jsp", sec, b"")


def rest_cases(session: str, security: str, root: tuple[str, str]) -> Iterator[bytes]:
    ann = {"Authorization": f"Bearer {session}", "X-Security-Token": security, "Content-Type": "application/json"}
    admin = {"Authorization": f"Bearer {root[0]}", "X-Security-Token": root[1], "Content-Type": "application/json"}
    yield request("POST", REST, ann, b'{"email": "a@x", "firstName": "Ann"}')
    yield request("POST", "/api/v1/ingest/nms:recipientStg", ann, b'[{"_key": "@email", "email": "b@x"}]')
    yield request("POST", "/api/v1/ingest-ext/nms:recipient", ann,
                  b'[{"_key": "@email", "_operation": "delete", "email": "b@x"}, {"_key": "@email", "email": "c@x"}]')
    yield request("POST", REST, {**ann, "Content-Type": "application/x-ndjson"}, b'{"email": "d@x"}\n{"email": "e"}\n')
    yield request("POST", REST, {"Content-Type": "application/json"}, b'{"email": "a@x"}')  # no tokens
    yield request("POST", REST, {**ann, "Authorization": "Bearer ___forged"}, b'{"email": "a@x"}')
    yield request("POST", REST, {"X-Session-Token": session, "X-Security-Token": security}, b'{"email": "a@x"}')
    yield request("POST", "/api/v1/ingest/dem:sampleTable", ann, b'{"testcol1": "x"}')  # no right
    yield request("POST", "/api/v1/ingest/nms:nothing", ann, b'{"a": 1}')
    yield request("POST", "/api/v1/ingest-ext/nothing", admin, b'{"a": 1}')
    yield request("POST", REST, ann, b"{nope")
    yield request("POST", REST, {**ann, "Content-Type": "text/plain"}, b"a=1")
    yield request("POST", REST, ann, b"42")
    yield request("POST", REST, ann, b'[{"email": "a@x"}, {"gender": "x"}]')
    yield request("POST", REST, ann, b"[" + b'{"email": "a@x"},' * 300 + b"{}]")  # 413 from Content-Length
    yield request("POST", REST, {**ann, "Idempotency-Key": ""}, b'{"email": "k@x"}')
    yield request("POST", "/api/v1/ingest/", ann, b'{"email": "a@x"}')
    yield request("POST", "/api/v1/ingest/a/b", ann, b'{"email": "a@x"}')
    yield request("GET", REST, ann)
    yield request("HEAD", REST, ann)
    yield request("POST", REST, {**ann, "Connection": "close"}, b'{"email": "a@x"}')


async def test_every_answer_is_the_same_through_both(door: Door) -> None:
    session, security = await door.logon("ann")
    root = await door.logon("root")
    statuses = set()
    for raw in [*soap_cases(session, security), *rest_cases(session, security, root)]:
        answer, _ = await door.both(raw)
        statuses.update(re.findall(rb"^HTTP/1.1 (\d+)", answer, re.MULTILINE))
    assert {b"100", b"200", b"400", b"401", b"403", b"404", b"405", b"413", b"415", b"422"} <= statuses


async def test_an_idempotent_call_and_its_replay_answer_the_same_through_both(door: Door) -> None:
    session, security = await door.logon("ann")
    headers = {"Authorization": f"Bearer {session}", "X-Security-Token": security, "Content-Type": "application/json"}
    answers = []
    for app, key in ((Plain(door.served), "k-plain"), (door.served, "k-direct")):
        raw = request("POST", REST, {**headers, "Idempotency-Key": key}, b'{"email": "k@x"}')
        answers.append([shape(*await door.exchange(app, raw)) for _ in range(2)])
    assert answers[0] == answers[1] and b"idempotent-replayed: true" in answers[1][1][0]


async def test_the_protocol_serves_the_ingest_routes_and_nothing_else(door: Door) -> None:
    session, security = await door.logon("ann")
    inner = door.served.inner = Counted(door.served.inner)
    sec = {"Content-Type": "text/xml", "X-Security-Token": security}
    rest = {"Authorization": f"Bearer {session}", "X-Security-Token": security, "Content-Type": "application/json"}
    taken = [request("POST", SOAP, sec, envelope("Ingest", f"<domDoc>{RECORD.format('t')}</domDoc>", session)),
             request("POST", SOAP, sec, b"<x/>"), request("POST", REST, rest, b'{"email": "t@x"}'),
             request("POST", "/api/v1/ingest-ext/nms:recipient", rest, b"{}")]
    for raw in taken:
        answer, _ = await door.exchange(door.served, raw)
        assert answer.startswith(b"HTTP/1.1 ") and inner.calls == 0
    left = [request("GET", SOAP, sec), request("HEAD", REST, rest), request("POST", "/api/v1/ingest/", rest, b"{}"),
            request("GET", "/healthz")]
    for count, raw in enumerate(left, 1):
        await door.exchange(door.served, raw)
        assert inner.calls == count


async def test_a_sync_role_server_serves_nothing_directly(door: Door) -> None:
    app = door.served.inner.app
    door.runtime.role = "sync"
    assert getattr(serving_app(app), "direct", None) is None


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@hsettings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["soap", "rest"]), content_type=st.sampled_from(
    ["text/xml", "application/json", "application/x-ndjson", "text/plain", "", "application/soap+xml; charset=utf-8"]),
    value=_TEXT, attribute=st.sampled_from(["email", "firstName", "nope", "gender", "_key", "xtkschema"]),
    tokens=st.sampled_from(["both", "session", "none"]), garble=st.integers(0, 60))
async def test_random_calls_answer_the_same_through_both(door: Door, kind: str, content_type: str, value: str,
                                                         attribute: str, tokens: str, garble: int) -> None:
    session, security = getattr(door, "_tokens", None) or await door.logon("ann")
    door._tokens = (session, security)  # type: ignore[attr-defined]
    headers = {"Content-Type": content_type} if content_type else {}
    if tokens != "none":
        headers["X-Session-Token"] = session
    if tokens == "both":
        headers["X-Security-Token"] = security
    if kind == "soap":
        quoted = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        body = envelope("Ingest", f'<domDoc><recipient xtkschema="nms:recipient" {attribute}="{quoted}"/></domDoc>')
        path = SOAP
    else:
        body = json.dumps({attribute: value}).encode()
        path = REST
    if garble:  # cut the body short: malformed documents of every kind
        body = body[: max(0, len(body) - garble)]
    await door.both(request("POST", path, headers, body))
