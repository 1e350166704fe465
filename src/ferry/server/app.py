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
    compat,
    docs,
    health,
    mcping,
    metrics,
    queries,
    rest,
    rest_support,
    soap,
    subscriptions,
    sync,
    workflow_scripts,
    writes,
)
from ferry.server.api.ingest import RestIngestFastPath
from ferry.server.door.limits import BodyLimitMiddleware, CollapseSlashesMiddleware
from ferry.server.door.request_id import RequestIdDoor
from ferry.server.process.runtime import Runtime
from ferry.soap import catalog

log = logging.getLogger(__name__)


class SoapFastPath:
    """Serves `POST /nl/jsp/soaprouter.jsp` straight from ASGI, skipping FastAPI's routing and middleware stack.

    Unitary SOAP calls are the hot path; the route stays registered on the app for OpenAPI and for in-process
    callers. The SOAP router enforces the body limit itself (413 as a SOAP fault).
    """

    def __init__(self, app: FastAPI, router: soap.SoapRouter, fallback: ASGIApp | None = None) -> None:
        self.app = app
        self.router = router
        self.fallback: ASGIApp = fallback if fallback is not None else app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].lstrip("/") == soap.SOAP_ROUTER_PATH[1:]):
            scope["app"] = self.app
            response = await self.router.handle(Request(scope, receive))
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
    soap_router = soap.soap_router(runtime)
    app.state.soap = soap_router
    catalog.install()
    queries.register_soap(soap_router)
    writes.register_soap(soap_router)
    sync.register_soap(soap_router)
    subscriptions.register_soap(soap_router)
    workflow_scripts.register_soap(soap_router)
    compat.register_soap(soap_router)
    app.include_router(soap.build_router(runtime, soap_router))
    app.include_router(health.build_router(runtime))
    app.include_router(mcping.build_router(runtime))
    # Before rest's router: it ends with a catch-all route for unknown /api/v1 paths.
    caller = rest_support.caller_dependency(runtime)
    app.include_router(queries.build_router(runtime, caller))
    app.include_router(sync.build_router(runtime, caller))
    app.include_router(workflow_scripts.build_router(runtime, caller))
    app.include_router(subscriptions.build_router(runtime, caller))
    app.include_router(subscriptions.link_router(runtime))
    app.include_router(rest.build_router(runtime, caller))
    metrics.install(app, runtime)
    console.install(app, runtime)
    docs.install(app)  # Swagger UI from a packaged copy, not a CDN
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(CollapseSlashesMiddleware)
    return app


def serving_app(app: FastAPI) -> ASGIApp:
    """What uvicorn runs: the app behind the SOAP and REST ingest fast paths (and, for `--role sync`, a door
    that lets only health and metrics through)."""
    served: ASGIApp = SoapFastPath(app, app.state.soap, RestIngestFastPath(app))
    if getattr(app.state.runtime, "role", "all") == "sync":
        served = SyncRoleDoor(served)
    return RequestIdDoor(served)


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
