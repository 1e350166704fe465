"""`GET /nl/jsp/mcPing.jsp`, Campaign's Message Center ping, as the Adobe SDK's `client.mcPing()` reads it.

Campaign answers three text lines, `Ok`, the server time and `<queued>/<threshold> pending events`, or `Error` and
a line naming `(<queued>/<threshold>)` when its event queue is over the threshold. ferry's queue is its staging
backlog: rows accepted and not yet synced, against `THRESHOLD`. Like ping.jsp it needs the session tokens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ferry.auth import AuthError, Operator
from ferry.server.api.rest_support import request_tokens

PATH = "/nl/jsp/mcPing.jsp"
# Staged rows waiting for the sync above which mcPing reports an error (a backlog to look at, not a limit).
THRESHOLD = 100_000
TEXT = "text/plain;charset=utf-8"


def _campaign_time(now: dt.datetime) -> str:
    """`2024-01-01 00:00:00.000Z`, the timestamp style of Campaign's health pages."""
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def backlog(runtime: Any, operator: Operator | None = None) -> int:
    """Rows staged and not yet synced, over every staged schema `operator` may read (all without one); blocking:
    run it in a worker thread. A one-schema operator never learns the backlog of the others."""
    return sum(status.counts.get("staged", 0) for status in runtime.db.store.status()
               if operator is None or runtime.auth.can_read(operator, status.schema_id))


def answer(queued: int, now: dt.datetime, threshold: int = THRESHOLD) -> str:
    """The page's text for a backlog of `queued` rows."""
    if queued > threshold:
        return f"Error\nThe staging backlog is over its threshold ({queued}/{threshold})\n"
    return f"Ok\n{_campaign_time(now)}\n{queued}/{threshold} pending events\n"


def build_router(runtime: Any) -> APIRouter:
    """The mcPing route."""
    api = APIRouter(tags=["operations"])

    @api.get(PATH, summary="Campaign Message Center ping (needs the session and security tokens)",
             response_class=Response)
    async def mc_ping(request: Request) -> Response:
        # `Authorization: Bearer`, `X-Session-Token` or the session cookie, as every other route reads them.
        session, security = request_tokens(request)
        try:
            operator = await runtime.auth.check_async(session, security)
        except AuthError as exc:
            return Response(exc.faultstring + "\n", status_code=401, media_type=TEXT)
        try:
            queued = await asyncio.to_thread(backlog, runtime, operator)
        except Exception as exc:  # staging down: Campaign's Error status, never a traceback
            return Response(f"Error\nthe staging database did not answer: {type(exc).__name__}\n", media_type=TEXT)
        return Response(answer(queued, dt.datetime.now(dt.UTC)), media_type=TEXT)

    return api
