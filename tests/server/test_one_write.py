"""The door's protocol writes a response of known length in one write (head and body), a streamed one as it goes."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from ferry.config import Settings
from ferry.server.door.protocol import GuardedHttpToolsProtocol

REQUEST = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


class Transport:
    """What the protocol writes, call by call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.closed_by_app = False

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


def serve(app: Any, request: bytes = REQUEST) -> Transport:
    async def run() -> Transport:
        protocol_class = GuardedHttpToolsProtocol.configure(Settings())
        protocol = protocol_class(config=Config(app=app, http="httptools"), server_state=ServerState(),
                                  app_state={}, _loop=asyncio.get_running_loop())
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(request)
        while protocol.tasks:
            await asyncio.gather(*protocol.tasks)
        transport.closed_by_app = transport.closed
        protocol.connection_lost(None)
        return transport

    return asyncio.run(run())


def test_a_response_with_a_length_goes_out_in_one_write() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})

    transport = serve(app)
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and transport.writes[0].endswith(b"\r\n\r\nhello")
    assert not transport.closed_by_app


def test_a_closing_response_is_written_before_the_close() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-length", b"2"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"no"})

    transport = serve(app)
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\nno") and transport.closed_by_app


def test_a_streamed_response_sends_its_head_at_once() -> None:
    seen: list[int] = []
    holder: list[Transport] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        seen.append(len(holder[0].writes))  # the head is out before the first chunk is produced
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    original = Transport.__init__

    def keep(self: Transport) -> None:
        original(self)
        holder.append(self)

    Transport.__init__ = keep  # type: ignore[method-assign]
    try:
        transport = serve(app)
    finally:
        Transport.__init__ = original  # type: ignore[method-assign]
    assert seen == [1]
    assert b"transfer-encoding: chunked" in transport.writes[0] and len(transport.writes) == 3


def test_a_long_body_in_chunks_keeps_its_length_and_order() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"6")]})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})

    transport = serve(app)
    assert transport.writes[0].endswith(b"\r\n\r\nabc") and transport.writes[1:] == [b"def"]
