"""Health checks as Campaign serves them (`/r/test`, `/nl/jsp/ping.jsp`) plus `/healthz` for orchestrators."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

import ferry
from ferry.auth import AuthError
from ferry.server import zones
from ferry.soap import envelope, writer


def _campaign_time(now: dt.datetime) -> str:
    """`2024-01-01 00:00:00.000Z`, the timestamp style of Campaign's health pages."""
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def build_router(runtime: Any) -> APIRouter:
    """`GET /r/test` (anonymous), `GET /nl/jsp/ping.jsp` (needs both tokens), `GET /healthz`."""
    api = APIRouter(tags=["operations"])
    host = socket.gethostname()

    @api.get("/r/test", summary="Campaign health check (anonymous)", response_class=Response)
    async def test(request: Request) -> Response:
        a = writer.attr
        now = _campaign_time(dt.datetime.now(dt.UTC))
        client = request.client.host if request.client else ""
        body = (f"<redir status='OK' date='{now}' build='9999' instance='ferry' sourceIP='{a(client)}' "
                f"host='{a(request.headers.get('host', ''))}' localHost='{a(host)}'/>\n")
        return Response(body, media_type="text/xml;charset=utf-8")

    @api.get("/nl/jsp/ping.jsp", summary="Campaign ping (needs the session and security tokens)",
             response_class=Response)
    async def ping(request: Request) -> Response:
        session = request.headers.get("x-session-token") or request.cookies.get(envelope.SESSION_COOKIE)
        security = request.headers.get("x-security-token")
        try:
            zone = zones.session_token_only(runtime.settings, zones.client_address(request))
            await runtime.auth.check_async(session, security, session_only=zone)
        except AuthError as exc:
            return Response(exc.faultstring + "\n", status_code=401, media_type="text/plain;charset=utf-8")
        return Response(f"OK\n{_campaign_time(dt.datetime.now(dt.UTC))}\n", media_type="text/plain;charset=utf-8")

    @api.get("/healthz", summary="Liveness and staging reachability (JSON)")
    async def healthz() -> JSONResponse:
        started = time.perf_counter()
        staging = "ok"
        try:
            await asyncio.wait_for(asyncio.to_thread(_ping_staging, runtime), timeout=5)
        except Exception as exc:  # any failure means "not healthy", never a traceback
            staging = f"unavailable: {exc}"
        healthy = staging == "ok" and bool(getattr(runtime, "running", True))
        body = {"status": "ok" if healthy else "unavailable", "version": ferry.__version__, "staging": staging,
                "writer": "running" if getattr(runtime, "running", True) else "stopped",
                "groupCommit": {"batches": getattr(runtime.writer, "batches_written", None),
                                "calls": getattr(runtime.writer, "calls_written", None)},
                "uptimeSeconds": round(time.time() - getattr(runtime, "started_at", time.time()), 3),
                "checkSeconds": round(time.perf_counter() - started, 4)}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return api


def _ping_staging(runtime: Any) -> None:
    with runtime.db.pool.connection(timeout=5) as conn:
        conn.execute("SELECT 1")
