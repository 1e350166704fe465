"""REST Ingest / IngestExt straight from ASGI: `POST /api/v1/ingest{,-ext}/{schema}` without FastAPI's stack.

Unitary REST calls are a hot path; FastAPI's dependency solving and eight middleware layers cost more than the call
itself. This path answers exactly as the FastAPI routes do (they stay registered, for OpenAPI and for in-process
callers): the body limit of `BodyLimitMiddleware` (413 from Content-Length before anything else, 413 as an API error
while streaming), the tokens of `rest.tokens`, the caller's rate limit, `rest.RestIngest`, the error replies and
metrics of `rest.FerryRoute`. Anything else goes to the app.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ferry.ingest import Method
from ferry.server.api import metrics, rest
from ferry.server.door import route_rights, zones
from ferry.server.door.limits import BodyTooLarge, content_length, limited_receive, reply_413
from ferry.server.process.runtime import Runtime

_ROUTES = ((rest.API_PREFIX + "/ingest/", Method.INGEST, "ingest"),
           (rest.API_PREFIX + "/ingest-ext/", Method.INGEST_EXT, "ingest_ext"))


def match(scope: Scope) -> tuple[Method, str, str] | None:
    """(method, route name, schema) when `scope` is a POST the FastAPI ingest routes would serve, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = _route_path(scope)
    if path.startswith("//"):  # as CollapseSlashesMiddleware rewrites it
        path = "/" + path.lstrip("/")
    for prefix, method, name in _ROUTES:
        if path.startswith(prefix):
            schema = path[len(prefix):]
            if schema and "/" not in schema:
                return method, name, schema
            return None
    return None


def _route_path(scope: Scope) -> str:
    """The path the router matches: `path` less `root_path` (as Starlette's routing computes it)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path):] if path[len(root_path)] == "/" else path


class RestIngestFastPath:
    """Serves the REST ingest routes from ASGI; every other request goes to the app itself."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.runtime: Runtime = app.state.runtime
        self.ingest = rest.RestIngest(self.runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        method, name, schema = found
        runtime = self.runtime
        limit = runtime.settings.max_body_bytes
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await reply_413(scope, send, BodyTooLarge(limit, declared))
            return
        scope["app"] = self.app
        request = Request(scope, limited_receive(receive, limit))
        started = time.perf_counter()
        outcome, code = "ok", None
        try:
            zone = zones.session_token_only(runtime.settings, zones.client_address(scope))
            operator = await rest.caller(runtime.auth, *rest.request_tokens(request), session_only=zone)
            template = f"{rest.API_PREFIX}/{name.replace('_', '-')}/{{schema}}"
            route_rights.enforce(operator, route_rights.http_rule("POST", template), f"POST {template}",
                                 {"schema": schema})
            response = await self.ingest(request, schema, method, operator)
        except Exception as exc:
            response, outcome, code = rest.refusal(exc, name)
        staged: tuple[str, int] | None = getattr(request.state, "ferry_staged", None)
        metrics.observe_call(self.app, name, rest.PROTOCOL, outcome, time.perf_counter() - started,
                             records=staged[1] if staged else 0, schema=staged[0] if staged else None, code=code)
        await response(scope, receive, send)
