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
from ferry.server.api.rest_support import request_tokens
from ferry.server.door import zones
from ferry.soap import writer


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
        session, security = request_tokens(request)  # Bearer, X-Session-Token or the cookie
        try:
            zone = zones.session_token_only(runtime.settings, zones.client_address(request))
            await runtime.auth.check_async(session, security, session_only=zone)
        except AuthError as exc:
            return Response(exc.faultstring + "\n", status_code=401, media_type="text/plain;charset=utf-8")
        return Response(f"OK\n{_campaign_time(dt.datetime.now(dt.UTC))}\n", media_type="text/plain;charset=utf-8")

    @api.get("/healthz", summary="Liveness and the state of each part: staging, warehouse, writer, sync (JSON)")
    async def healthz() -> JSONResponse:
        started = time.perf_counter()
        parts = await part_states(runtime) if hasattr(runtime, "parts") else None
        if parts is None:
            staging = "ok"
            try:
                await asyncio.wait_for(asyncio.to_thread(_ping_staging, runtime), timeout=5)
            except Exception as exc:  # any failure means "not healthy", never a traceback
                staging = f"unavailable: {exc}"
            parts = {"staging": {"status": "up" if staging == "ok" else "down",
                                 "reason": None if staging == "ok" else staging}}
        running = bool(getattr(runtime, "running", True))
        parts["writer"] = {"status": "up" if running else "down", "reason": None if running else "stopped"}
        staging_up = parts["staging"]["status"] == "up"
        healthy = staging_up and running
        warehouse = parts.get("warehouse", {"status": "unknown"})
        degraded = warehouse["status"] in ("down", "refused")
        body = {"status": ("ok" if not degraded else "degraded") if healthy else "unavailable",
                "version": ferry.__version__, "role": getattr(runtime, "role", "all"),
                "staging": "ok" if staging_up else f"unavailable: {parts['staging'].get('reason') or 'down'}",
                "warehouse": _summary(warehouse),
                "writer": "running" if running else "stopped",
                "parts": parts,
                "groupCommit": {"batches": getattr(runtime.writer, "batches_written", None),
                                "calls": getattr(runtime.writer, "calls_written", None)},
                "uptimeSeconds": round(time.time() - getattr(runtime, "started_at", time.time()), 3),
                "checkSeconds": round(time.perf_counter() - started, 4)}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return api


async def part_states(runtime: Any) -> dict[str, dict[str, Any]]:
    """The cached state of each checked part; before a part's first check, waits for it up to the health timeout."""
    monitor = runtime.parts
    deadline = time.monotonic() + monitor.timeout
    states = {name: monitor.peek(name) for name in monitor.names}
    while any(state.status == "unknown" for state in states.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        states = {name: monitor.peek(name) for name in monitor.names}
    return {name: state.to_json() for name, state in states.items()}


def _summary(part: dict[str, Any]) -> str:
    status = str(part.get("status"))
    if status == "up":
        return "ok"
    reason = part.get("reason")
    return f"{status}: {reason}" if reason else status


def _ping_staging(runtime: Any) -> None:
    with runtime.db.pool.connection(timeout=5) as conn:
        conn.execute("SELECT 1")
