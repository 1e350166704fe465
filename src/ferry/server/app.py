"""`create_app(runtime)`: the ASGI app (SOAP router, REST API, health, metrics) around one Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

import ferry
from ferry.server import console
from ferry.server.api import (
    docs as docs_assets,
)
from ferry.server.api import (
    health,
    mcping,
    metrics,
    rest,
)
from ferry.server.api import (
    queries as query_routes,
)
from ferry.server.api import (
    soap as soap_routes,
)
from ferry.server.api import (
    subscriptions as subscription_routes,
)
from ferry.server.api import (
    sync as sync_routes,
)
from ferry.server.api import (
    writes as write_routes,
)
from ferry.server.api.ingest import RestIngestFastPath
from ferry.server.door.limits import BodyLimitMiddleware, CollapseSlashesMiddleware
from ferry.server.process.runtime import Runtime
from ferry.soap import catalog

log = logging.getLogger(__name__)


class SoapFastPath:
    """Serves `POST /nl/jsp/soaprouter.jsp` straight from ASGI, skipping FastAPI's routing and middleware stack.

    Unitary SOAP calls are the hot path; the route stays registered on the app for OpenAPI and for in-process
    callers. The SOAP router enforces the body limit itself (413 as a SOAP fault).
    """

    def __init__(self, app: FastAPI, soap: soap_routes.SoapRouter, fallback: ASGIApp | None = None) -> None:
        self.app = app
        self.soap = soap
        self.fallback: ASGIApp = fallback if fallback is not None else app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].lstrip("/") == soap_routes.SOAP_ROUTER_PATH[1:]):
            scope["app"] = self.app
            response = await self.soap.handle(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.fallback(scope, receive, send)


def create_app(runtime: Runtime) -> FastAPI:
    """The app; its lifespan starts the writer (and scheduler) and, on shutdown, commits in-flight calls first."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="ferry", version=ferry.__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Adobe Campaign v8 FFDA-style ingestion: SOAP Ingest / IngestExt and a REST API into "
                              "PostgreSQL staging, replicated to a warehouse.")
    app.state.runtime = runtime
    if getattr(runtime, "role", "all") == "sync":
        log.info("role sync: calls are refused, only the sync workflows run")
    soap = soap_routes.soap_router(runtime)
    app.state.soap = soap
    catalog.install()
    query_routes.register_soap(soap)
    write_routes.register_soap(soap)
    sync_routes.register_soap(soap)
    subscription_routes.register_soap(soap)
    app.include_router(soap_routes.build_router(runtime, soap))
    app.include_router(health.build_router(runtime))
    app.include_router(mcping.build_router(runtime))
    # Before rest's router: it ends with a catch-all route for unknown /api/v1 paths.
    caller = rest.caller_dependency(runtime)
    app.include_router(query_routes.build_router(runtime, caller))
    app.include_router(sync_routes.build_router(runtime, caller))
    app.include_router(subscription_routes.build_router(runtime, caller))
    app.include_router(subscription_routes.link_router(runtime))
    app.include_router(rest.build_router(runtime, caller))
    metrics.install(app, runtime)
    console.install(app, runtime)
    docs_assets.install(app)  # Swagger UI from a packaged copy, not a CDN
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(CollapseSlashesMiddleware)
    return app


def serving_app(app: FastAPI) -> ASGIApp:
    """What uvicorn runs: the app behind the SOAP and REST ingest fast paths (and, for `--role sync`, a door
    that lets only health and metrics through)."""
    served: ASGIApp = SoapFastPath(app, app.state.soap, RestIngestFastPath(app))
    if getattr(app.state.runtime, "role", "all") == "sync":
        served = SyncRoleDoor(served)
    return served


class SyncRoleDoor:
    """`--role sync` runs the workflows only: every call but health and metrics gets FRY-400020 (HTTP 503)."""

    OPEN = frozenset({"/healthz", "/metrics", "/r/test"})

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN:
            await self.inner(scope, receive, send)
            return
        from ferry import errors
        from ferry.errors import FerryError
        from ferry.server.api.rest_support import error_response

        refusal = FerryError(errors.ROLE_REFUSED, "this server runs with --role sync: it only runs the sync "
                             "workflows; send calls to a server with --role all or ingest")
        await error_response(refusal)(scope, receive, send)
