"""`create_app(runtime)`: the ASGI app (SOAP router, REST API, health, metrics) around one Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import ferry
from ferry.server import health, metrics, rest, soap_routes
from ferry.server.limits import BodyLimitMiddleware, CollapseSlashesMiddleware
from ferry.server.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    """The app; its lifespan starts the writer (and scheduler) and, on shutdown, commits in-flight calls first."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="ferry", version=ferry.__version__, lifespan=lifespan,
                  description="Adobe Campaign v8 FFDA-style ingestion: SOAP Ingest / IngestExt and a REST API into "
                              "PostgreSQL staging, replicated to a warehouse.")
    app.state.runtime = runtime
    soap = soap_routes.soap_router(runtime)
    app.state.soap = soap
    app.include_router(soap_routes.build_router(runtime, soap))
    app.include_router(health.build_router(runtime))
    app.include_router(rest.build_router(runtime))
    metrics.install(app, runtime)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(CollapseSlashesMiddleware)
    return app
