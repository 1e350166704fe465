"""`ferry serve`: the SOAP router, REST API, health and metrics on uvicorn, in one process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ferry.cli.common import DataDir, console, fail, settings_for
from ferry.errors import FerryError

log = logging.getLogger(__name__)


def _loop_and_http() -> tuple[str, str]:
    """uvloop and httptools when installed (they are, with uvicorn[standard]), else the pure-Python ones."""
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return loop, http


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, minus re-raising SIGTERM / SIGINT after its graceful shutdown.

        uvicorn re-raises the captured signal once it has stopped, which would kill the process before ferry closes
        the staging pool and stops the embedded PostgreSQL; ferry exits normally instead.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    captured = getattr(self, "_captured_signals", None)
                    if isinstance(captured, list):
                        captured.clear()

    return Server


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on. Default 127.0.0.1 or FERRY_HOST.",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on. Default 8080 or FERRY_PORT.",
                                             show_default=False)] = None,
    data_dir: DataDir = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    role: Annotated[str | None, typer.Option("--role", help="all (default): calls and the sync; ingest: calls only, "
                                             "never opens the warehouse; sync: only the sync workflows (and health "
                                             "and metrics). Default all or FERRY_ROLE.", show_default=False)] = None,
) -> None:
    """Serve ferry until SIGTERM / SIGINT; in-flight calls are committed before it exits."""
    import uvicorn

    from ferry.server.app import create_app, serving_app
    from ferry.server.runtime import Runtime

    settings = settings_for(data_dir, host=host, port=port, role=role)
    try:
        runtime = Runtime(settings)
    except FerryError as exc:
        fail(exc)
    try:
        if settings.admin_password and runtime.auth.ensure_admin(settings.admin_password):
            console.print("operator [bold]admin[/] created from FERRY_ADMIN_PASSWORD")
        elif not runtime.auth.list_operators():
            console.print("[yellow]no operator yet: nobody can log on. Set FERRY_ADMIN_PASSWORD before starting, "
                          "or run `ferry operator add LOGIN --admin`.[/]")
        # The sync of every staged schema every settings.sync_interval seconds (FERRY_SYNC_INTERVAL), in-process.
        # A server with --role ingest never opens the warehouse, so several may share one DuckDB-fed staging.
        if runtime.role != "ingest":
            try:
                runtime.enable_scheduler()
            except FerryError as exc:
                fail(exc)
        app = create_app(runtime)
        loop, http = _loop_and_http()
        config = uvicorn.Config(serving_app(app), host=settings.host, port=settings.port, loop=loop, http=http,
                                lifespan="on", log_level=log_level, timeout_graceful_shutdown=30, server_header=False)
        where = Path(settings.data_dir).resolve()
        staging = "configured PostgreSQL" if settings.database_url else f"embedded PostgreSQL in {where}"
        # Plain print: one unwrapped line that scripts can read.
        print(f"ferry listening on http://{settings.host}:{settings.port} "
              f"(SOAP /nl/jsp/soaprouter.jsp, REST /api/v1, staging: {staging}, role: {runtime.role})", flush=True)
        # uvicorn handles SIGTERM / SIGINT: stop accepting, finish in-flight requests, then run the lifespan
        # shutdown (which drains the group committer).
        _server_class()(config).run()
    finally:
        runtime.close()
        console.print("ferry stopped")


def register(app: typer.Typer) -> None:
    """Add `ferry serve` to the CLI."""
    app.command("serve")(serve)
