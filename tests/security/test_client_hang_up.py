"""A client that hangs up before its body arrives is a debug line, never an ERROR with a traceback (issue 27, item
7); nothing is staged and the answer (which nobody reads) is coded."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ferry.server.app import serving_app

pytestmark = pytest.mark.anyio


async def hang_up(app: Any, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Send the request head, then a disconnect where the body should be; the messages the app sent back."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in {**headers, "content-length": "500"}.items()],
             "client": ("127.0.0.1", 50000), "server": ("ferry.test", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(("path", "content_type"), [("/api/v1/ingest/nms:recipient", "application/json"),
                                                    ("/nl/jsp/soaprouter.jsp", "text/xml")])
async def test_a_hang_up_is_a_debug_line(site: Any, caplog: pytest.LogCaptureFixture, path: str,
                                         content_type: str) -> None:
    tokens = await site.tokens("admin")
    before = site.counts()
    caplog.set_level(logging.DEBUG, logger="ferry")
    sent = await hang_up(serving_app(site.app), path, {**tokens.headers, "X-Session-Token": tokens.session,
                                                       "content-type": content_type})
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any("hung up" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"FRY-600019" in body
    assert site.counts() == before
