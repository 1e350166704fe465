"""Request hardening: a body-size limit checked while the body streams in (never buffered first), and `//` paths.

`BodyLimitMiddleware` answers 413 from the Content-Length alone, or as soon as a streamed body passes the limit:
the receive channel raises `BodyTooLarge` (a FerryError FRY-600008), which any handler may turn into its own
error reply; when none does, the middleware answers 413 itself.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry import errors
from ferry.errors import FerryError
from ferry.soap import writer

SOAP_PATH_PREFIX = "/nl/jsp/"
log = logging.getLogger(__name__)


def client_gone(where: str) -> FerryError:
    """A client that hung up before its body arrived: nobody reads the answer, and nothing failed inside ferry, so it
    is a debug line, not an error with a traceback."""
    log.debug("client hung up before its %s request body arrived", where)
    return FerryError(errors.CLIENT_GONE, "the client closed the connection before the request body arrived; "
                      "nothing was staged")


class BodyTooLarge(FerryError):
    """The request body passed `settings.max_body_bytes`."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        size = f"{declared} bytes" if declared is not None else "larger than the limit"
        super().__init__(errors.BODY_TOO_LARGE, f"the request body is {size}; the limit is {limit} bytes "
                         "(setting max_body_bytes); split the call")
        self.limit = limit


def too_large_body(path: str, exc: FerryError) -> tuple[bytes, str]:
    """The 413 reply body: a SOAP fault for SOAP paths, a JSON error elsewhere."""
    if path.startswith(SOAP_PATH_PREFIX):
        return writer.fault(exc.text), writer.CONTENT_TYPE
    return json.dumps({"error": exc.to_dict()}).encode("utf-8"), "application/json"


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with HTTP 413, reading at most `max_bytes` of them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await reply_413(scope, send, BodyTooLarge(limit, declared))
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive(receive, limit), tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await reply_413(scope, send, exc)


def limited_receive(receive: Receive, limit: int) -> Receive:
    """`receive`, raising BodyTooLarge as soon as the body received passes `limit` bytes."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return limited


def content_length(scope: Scope) -> int | None:
    """The request's Content-Length header as an int (None when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def reply_413(scope: Scope, send: Send, exc: FerryError) -> None:
    """Answer 413 with `too_large_body` and close the connection (the rest of the body is never read)."""
    body, content_type = too_large_body(scope.get("path", ""), exc)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class CollapseSlashesMiddleware:
    """`//nl/jsp/soaprouter.jsp` (an SDK endpoint with a trailing slash) routes like `/nl/jsp/soaprouter.jsp`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("//"):
            scope = dict(scope)
            scope["path"] = "/" + path.lstrip("/")
        await self.app(scope, receive, send)


async def read_limited(request: Request, limit: int, *, where: str = "SOAP") -> bytes:
    """The whole body, raising BodyTooLarge past `limit` bytes (also when no middleware is installed); the one
    bounded read of every way in (`where` names it in the log line of a client that hung up)."""
    if hasattr(request, "_body"):  # read before (Starlette keeps it there)
        body: bytes = request._body
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body
    # The receive channel itself, not `request.stream()`: an async generator per call costs more than a unitary
    # call's whole read.
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise client_gone(where)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # what `request.body()` answers from now on, as after Starlette's own read
    return body
