"""The door's guarded httptools protocol (imported only when httptools serves; see ferry.server.door.uvicorn_config).

uvicorn's httptools protocol has no cap on the request head, no header timeout and no per-client connection
limit, so `GuardedHttpToolsProtocol` adds them:

- request head (request line + headers) over `max_header_bytes` → 431 (414 while still in the request line), as
  soon as the bytes arrive: the head is never buffered past the limit;
- more than `max_headers` header lines → 431; a request line over `max_request_line_bytes` → 414;
- the head not complete `header_timeout` s after the connection (or the request) started → 408 (slowloris);
- no body bytes for `body_timeout` s while the app waits for the body → 408;
- more than `max_connections_per_client` open connections from one socket address → 429 at once.

What uvicorn has is used as is (`uvicorn_options`): `limit_concurrency` (`max_connections`, 503 over it),
`timeout_keep_alive` (`keep_alive_timeout`), `h11_max_incomplete_event_size` (the head cap when h11 serves),
`proxy_headers` / `forwarded_allow_ips` (`--forwarded-allow-ips`). The body cap (413) is `BodyLimitMiddleware`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ferry import errors
from ferry.errors import Code

_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 429: b"Too Many Requests",
            431: b"Request Header Fields Too Large"}


class _Refusal(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers `status` instead of uvicorn's 400."""

    def __init__(self, status: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refusal_bytes(status: int, code: Code, message: str) -> bytes:
    """A complete HTTP/1.1 reply with a JSON error body; the connection closes after it."""
    body = json.dumps({"error": {"code": code.code, "message": message}}).encode("utf-8")
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n"
            % (status, _REASONS.get(status, b"Error"), len(body)))
    if status == 429:
        head += b"retry-after: 1\r\n"
    return head + b"\r\n" + body


class DoorLimits:
    """The door's numbers, read from Settings once per server."""

    def __init__(self, settings: Any) -> None:
        self.max_head = int(settings.max_header_bytes)
        self.max_headers = int(settings.max_headers)
        self.max_line = int(settings.max_request_line_bytes)
        self.header_timeout = float(settings.header_timeout)
        self.body_timeout = float(settings.body_timeout)
        self.per_client = int(settings.max_connections_per_client)


class _Collected:
    """Stands in for the transport while uvicorn's `send` writes: keeps the bytes (and a close) for one write."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed or bool(self.transport.is_closing())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request cycle, but a response of known length goes out in one write, head and body together.

    uvicorn writes the head at `http.response.start` and the body at `http.response.body`: two system calls and
    two TCP segments (the socket has TCP_NODELAY), so the client wakes twice, for every unitary call. The head of a
    response with a Content-Length is held until its body; a streamed one (no length) still goes out at once."""

    held: list[bytes] | None = None

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()  # here, so uvicorn's `send` below never waits with the transport swapped
        held = self.held
        if held is None:
            if self.response_started or message["type"] != "http.response.start" \
                    or not _has_length(message.get("headers", ())):
                await super().send(message)
                return
            held = []
        self.held = None
        transport = self.transport
        collected = _Collected(transport)
        self.transport = collected  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
        held += collected.parts
        if message["type"] == "http.response.start" and not collected.closed:
            self.held = held  # the head: it waits for the body
            return
        if held and not self.disconnected:
            transport.write(b"".join(held))
        if collected.closed:
            transport.close()


def _has_length(headers: Any) -> bool:
    return any(name.lower() == b"content-length" for name, _ in headers)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the door's limits; `configure(settings)` sets them for the process."""

    limits: DoorLimits | None = None

    @classmethod
    def configure(cls, settings: Any) -> type[GuardedHttpToolsProtocol]:
        """A protocol class carrying these settings' limits (what `uvicorn.Config(http=...)` takes)."""
        return type("FerryHttpProtocol", (cls,), {"limits": DoorLimits(settings)})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._in_line = True
        self._head_bytes = 0
        self._tail = b""
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._counted: str | None = None
        self._refused = False

    # -- connection ---------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        if limits is None:
            return
        host = self.client[0] if self.client else None
        if host is not None and limits.per_client > 0:
            counts = _per_client(self.server_state)
            if counts.get(host, 0) >= limits.per_client:
                self._refuse(429, errors.TOO_MANY_CONNECTIONS, f"more than {limits.per_client} open connections "
                             "from this address (setting max_connections_per_client); close some and retry")
                return
            counts[host] = counts.get(host, 0) + 1
            self._counted = host
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._counted is not None:
            counts = _per_client(self.server_state)
            left = counts.get(self._counted, 1) - 1
            if left > 0:
                counts[self._counted] = left
            else:
                counts.pop(self._counted, None)
            self._counted = None
        super().connection_lost(exc)

    # -- bytes in -----------------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        limits = self.limits
        if limits is not None and self._in_head:
            if self._head_timer is None:
                self._arm_head_timer()
            if not self._head_fits(data, limits):
                return
        if self._body_timer is not None:
            self._arm_body_timer()
        super().data_received(data)

    def _head_fits(self, data: bytes, limits: DoorLimits) -> bool:
        """Count the head's bytes (up to the blank line) before the parser buffers them; refuse past the caps."""
        window = self._tail + data
        end = window.find(b"\r\n\r\n")
        head_part = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
        if self._in_line:
            line_end = window.find(b"\r\n")
            line_len = (self._head_bytes + len(data)) if line_end < 0 else self._head_bytes + line_end - len(self._tail)
            if line_len > limits.max_line:
                self._refuse(414, errors.REQUEST_HEAD_TOO_LARGE, f"the request line is over {limits.max_line} bytes "
                             "(setting max_request_line_bytes)")
                return False
            if line_end >= 0:
                self._in_line = False
        self._head_bytes += head_part
        self._tail = window[-3:]
        if self._head_bytes > limits.max_head:
            self._refuse(431, errors.REQUEST_HEAD_TOO_LARGE, f"the request headers are over {limits.max_head} "
                         "bytes (setting max_header_bytes)")
            return False
        return True

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        cycle.__class__ = OneWriteCycle  # uvicorn builds the cycle itself; this subclass adds no state of its own
        super()._start_asgi_task(cycle, app)

    # -- parser callbacks -----------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self.limits
        self._header_count += 1
        if limits is not None and self._header_count > limits.max_headers:
            raise _Refusal(431, errors.REQUEST_HEAD_TOO_LARGE, f"more than {limits.max_headers} header lines "
                           "(setting max_headers)")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if self.limits is not None and self._expects_body():
            self._arm_body_timer()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()
        # The next request on this connection starts a new head (its timer starts with its first byte).
        self._in_head, self._in_line, self._head_bytes, self._tail = True, True, 0, b""

    def send_400_response(self, msg: str) -> None:
        # A parser callback refused the request (see _Refusal): answer its status instead of uvicorn's 400.
        cause = self._parser_refusal()
        if cause is not None:
            self._refuse(cause.status, cause.code, cause.message)
            return
        super().send_400_response(msg)

    def _parser_refusal(self) -> _Refusal | None:
        import sys

        error = sys.exc_info()[1]
        while error is not None:
            if isinstance(error, _Refusal):
                return error
            error = error.__cause__ or error.__context__
        return None

    # -- timers ---------------------------------------------------------------------------------------------------

    def _expects_body(self) -> bool:
        for name, value in self.headers or ():
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def _arm_head_timer(self) -> None:
        limits = self.limits
        if limits is not None and limits.header_timeout > 0 and not self._refused:
            self._head_timer = self.loop.call_later(limits.header_timeout, self._head_timed_out)

    def _arm_body_timer(self) -> None:
        limits = self.limits
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if limits is not None and limits.body_timeout > 0 and not self._refused:
            self._body_timer = self.loop.call_later(limits.body_timeout, self._body_timed_out)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self._refused:
            return
        if self._head_bytes == 0 and self.cycle is not None:
            self.transport.close()  # an idle keep-alive connection: uvicorn's keep-alive timeout's job, just close
            return
        limits = self.limits
        seconds = limits.header_timeout if limits else 0
        self._refuse(408, errors.REQUEST_TIMEOUT, f"the request headers did not arrive within {seconds:g} s "
                     "(setting header_timeout)")

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:
            self._arm_body_timer()  # we stopped reading (the app is slow), not the client: wait again
            return
        limits = self.limits
        seconds = limits.body_timeout if limits else 0
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        self._refuse(408, errors.REQUEST_TIMEOUT, f"no body bytes for {seconds:g} s (setting body_timeout)")

    def _refuse(self, status: int, code: Code, message: str) -> None:
        """Answer `status` with a JSON error and close; nothing more is read from this connection."""
        self._refused = True
        self._cancel_timers()
        self.logger.warning("refused at the door (%d %s): %s from %s", status, code.code, message,
                            self.client[0] if self.client else "?")
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(refusal_bytes(status, code, message))
            self.transport.close()


def _per_client(server_state: Any) -> dict[str, int]:
    """Open connections per client address, shared by the protocols of one server."""
    counts: dict[str, int] | None = getattr(server_state, "ferry_per_client", None)
    if counts is None:
        counts = {}
        server_state.ferry_per_client = counts
    return counts
