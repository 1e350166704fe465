"""Limits at the door, in the HTTP protocol before any request reaches the app (see docs/security.md).

uvicorn's httptools protocol has no cap on the request head, no header timeout and no per-client connection
limit, so `ferry.server.door.protocol.GuardedHttpToolsProtocol` adds them: the request head over
`max_header_bytes` → 431 (414 in the request line) as the bytes arrive, more than `max_headers` lines → 431, a
request line over `max_request_line_bytes` → 414, the head not complete after `header_timeout` s → 408 (slowloris),
no body byte for `body_timeout` s → 408, more than `max_connections_per_client` connections from one socket address
→ 429. What uvicorn has is used as is (`uvicorn_options`): `limit_concurrency` (`max_connections`, 503),
`timeout_keep_alive` (`keep_alive_timeout`), `h11_max_incomplete_event_size` (the head cap when h11 serves),
`proxy_headers` / `forwarded_allow_ips` (`--forwarded-allow-ips`). The body cap (413) is `BodyLimitMiddleware`.
"""

from __future__ import annotations

from typing import Any


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """The uvicorn.Config keywords of the door's settings (what uvicorn itself enforces)."""
    trusted = str(getattr(settings, "forwarded_allow_ips", "") or "").strip()
    options: dict[str, Any] = {
        "timeout_keep_alive": max(1, round(settings.keep_alive_timeout)),
        "h11_max_incomplete_event_size": int(settings.max_header_bytes),
        # X-Forwarded-For / -Proto are believed only from the proxies named here (none by default).
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or "",
    }
    if settings.max_connections > 0:
        options["limit_concurrency"] = int(settings.max_connections)
    return options


def http_protocol(settings: Any, http: str) -> Any:
    """The `http=` of uvicorn.Config: the guarded httptools protocol, or h11 (with its own head cap only)."""
    if http == "httptools":
        from ferry.server.door.protocol import GuardedHttpToolsProtocol

        return GuardedHttpToolsProtocol.configure(settings)
    return http
