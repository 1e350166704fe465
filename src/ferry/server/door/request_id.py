"""A request id for every HTTP call: the client's `X-Request-Id` (when it is a sane token) or a new one, put in the
log context of everything the call logs and echoed in the reply's `X-Request-Id`."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry.ingest.ids import uuid7
from ferry.logs import set_log_context

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class RequestIdDoor:
    """Outermost ASGI layer: the id goes into the log context (the access log line included) and the reply."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        given = next((value for name, value in scope.get("headers", ()) if name == HEADER), None)
        # A new id takes random bits drawn ahead (`uuid7`): no system call per call.
        request_id = given if given is not None and _SANE.fullmatch(given) else uuid7().hex.encode()
        set_log_context(request_id=request_id.decode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        await self.inner(scope, receive, send_with_id)
