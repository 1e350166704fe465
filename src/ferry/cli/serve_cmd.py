"""`ferry serve`: the SOAP router, REST API, health and metrics on uvicorn, in one process."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from ferry import errors
from ferry.cli.common import DataDir, console, fail, settings_for
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.locations import describe, duckdb_file, embedded_pgdata
from ferry.logs import configure_logging
from ferry.server.process.pidfile import PidFile

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


# Young objects that trigger a collection (CPython's default is 700). The calls in flight hold that many between
# them from ~20 concurrent calls on: a collection then ran every few calls, found almost nothing to free, and moved
# the survivors on to older generations to be walked again (bench unitary at 128 clients: ~8-12 µs of server CPU
# per call at 700, under 1 µs at 5,000).
_YOUNG_THRESHOLD = 5_000


def _freeze_startup_heap() -> None:
    """Move the ~120k objects left by imports and startup out of the garbage collector's reach, and let young
    objects pile up further before a collection."""
    # They live as long as the process, yet each full collection walked them all again: under 128 clients that
    # was ~10-16 µs of server CPU per call (bench unitary; a call's own garbage is young and still collected).
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


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


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts so that a taken port fails first and clearly."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise FerryError(errors.CANNOT_LISTEN, f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = "; another process uses this port: stop it or pick another with --port" \
            if exc.errno in (98, 48) else ""
        raise FerryError(errors.CANNOT_LISTEN, f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") \
            from None
    sock.set_inheritable(True)
    return sock


def _lock_for(settings: Settings) -> PidFile | None:
    """The data folder's lock, when this server would hold something only one process may: the embedded
    PostgreSQL or the DuckDB warehouse file."""
    if embedded_pgdata(settings) is None and duckdb_file(settings) is None:
        return None
    return PidFile(settings.data_dir)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on. Default 127.0.0.1 or FERRY_HOST.",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on. Default 8080 or FERRY_PORT.",
                                             show_default=False)] = None,
    data_dir: DataDir = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips", help="Proxies (comma-separated addresses, or *) whose X-Forwarded-For / "
        "X-Forwarded-Proto are believed. Default none, or FERRY_FORWARDED_ALLOW_IPS.", show_default=False)] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes serving the port (each with its "
                                                "own writer); the first also syncs. Default 1 or FERRY_WORKERS.",
                                                show_default=False)] = None,
    role: Annotated[str | None, typer.Option("--role", help="all (default): calls and the sync; ingest: calls only, "
                                             "never opens the warehouse; sync: only the sync workflows (and health "
                                             "and metrics). Default all or FERRY_ROLE.", show_default=False)] = None,
) -> None:
    """Serve ferry until SIGTERM / SIGINT; in-flight calls are committed before it exits."""
    import uvicorn

    from ferry.server.app import create_app, serving_app
    from ferry.server.door import uvicorn_config as door
    from ferry.server.process.owner_socket import WarehouseOwner
    from ferry.server.process.runtime import Runtime
    from ferry.warehouse.owner_file import publish, withdraw
    from ferry.warehouse.remote import OWNER_SECRET_ENV, OwnerLink

    settings = settings_for(data_dir, host=host, port=port, workers=workers, role=role)
    # FERRY_LOG_JSON or log_json in ferry.toml: every line (ferry's and uvicorn's) one JSON object.
    configure_logging(as_json=settings.log_json or None, level=logging.WARNING)
    logging.getLogger("ferry").setLevel("DEBUG" if log_level.lower() == "trace" else log_level.upper())
    if forwarded_allow_ips is not None:
        settings = dataclasses.replace(settings, forwarded_allow_ips=forwarded_allow_ips)
    children: list[subprocess.Popen[bytes]] = []
    owner: WarehouseOwner | None = None
    if settings.workers > 1:
        check_workers(settings)
    # An ingest node (one of `--workers N`'s extra processes) shares the port with SO_REUSEPORT and leaves the
    # data folder's lock to the process that owns it.
    extra_worker = bool(os.environ.get(WORKER_OF))
    shared_metrics(settings, extra_worker)
    shared = settings.workers > 1 or settings.role == "ingest" or extra_worker
    lock = None if settings.role == "ingest" or extra_worker else _lock_for(settings)
    try:
        if lock is not None:
            lock.acquire()
        sock = shared_socket(settings.host, settings.port) if shared else bind(settings.host, settings.port)
    except FerryError as exc:
        if lock is not None:
            lock.release()
        fail(exc)
    try:
        # One of `--workers N`'s extra processes with a DuckDB warehouse: the first process owns it (see below).
        link = OwnerLink.from_env() if extra_worker else None
        os.environ.pop(OWNER_SECRET_ENV, None)  # read once: nothing this process starts needs it
        runtime = Runtime(settings, owner=link)
    except FerryError as exc:
        sock.close()
        if lock is not None:
            lock.release()
        fail(exc)
    try:
        if settings.admin_password and runtime.auth.ensure_admin(settings.admin_password):
            console.print("operator [bold]admin[/] created from FERRY_ADMIN_PASSWORD")
        elif settings.admin_password:
            log.warning("FERRY_ADMIN_PASSWORD is ignored: operators exist already (it only creates admin on a first "
                        "start); change a password with `ferry operator passwd LOGIN`")
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
        # The limits at the door (ferry.server.door.uvicorn_config): uvicorn's own settings plus the guarded protocol.
        config = uvicorn.Config(serving_app(app), host=settings.host, port=settings.port, loop=loop,
                                http=door.http_protocol(settings, http), lifespan="on", log_level=log_level,
                                log_config=None,
                                timeout_graceful_shutdown=30, server_header=False, **door.uvicorn_options(settings))
        if holds_duckdb(settings):
            # The other workers, and `ferry doctor` / `ferry backup` run beside this server, reach the DuckDB file
            # (one process may open it) through this process's socket.
            try:
                owner = WarehouseOwner(runtime)
                owner.start()
            except FerryError as exc:
                fail(exc)
            publish(settings.data_dir, OwnerLink(owner.path, owner.secret, os.getpid()))
        if settings.workers > 1:
            worker_env = owner.environ() if owner is not None and owns_warehouse(settings) else {}
            children = start_workers(settings, log_level, worker_env)
        # Plain print: one unwrapped line that scripts can read; the socket is bound, so this is true.
        print(f"ferry listening on http://{settings.host}:{settings.port} "
              f"(SOAP /nl/jsp/soaprouter.jsp, REST /api/v1; {describe(settings)}; role: {runtime.role}"
              f"{f', warehouse via the first process (PID {runtime.remote.link.pid})' if runtime.remote else ''}"
              f"{f'; {settings.workers} workers' if settings.workers > 1 else ''})", flush=True)
        _freeze_startup_heap()
        # uvicorn handles SIGTERM / SIGINT: stop accepting, finish in-flight requests, then run the lifespan
        # shutdown (which drains the group committer).
        _server_class()(config).run(sockets=[sock])
    finally:
        stop_workers(children)
        if owner is not None:
            withdraw(settings.data_dir)
            owner.stop()
        sock.close()
        runtime.close()
        metrics_gone()
        if lock is not None:
            lock.release()
        console.print("ferry stopped")


# Set in the environment of `--workers N`'s extra processes: they share the first one's socket and data folder.
WORKER_OF = "FERRY_WORKER_OF"


def is_duckdb(settings: Settings) -> bool:
    """True when the warehouse is DuckDB, which one process at a time may open."""
    return settings.effective_warehouse_url.lower().startswith("duckdb:")


def holds_duckdb(settings: Settings) -> bool:
    """True when this process opens a DuckDB warehouse file (no other process can while it runs)."""
    return settings.role in ("all", "sync") and is_duckdb(settings) and not os.environ.get(WORKER_OF) \
        and not settings.effective_warehouse_url.endswith(":memory:")


def owns_warehouse(settings: Settings) -> bool:
    """True when this process (the first of `--workers N`, role all) serves a DuckDB warehouse to the others."""
    return settings.workers > 1 and settings.role == "all" and is_duckdb(settings) and not os.environ.get(WORKER_OF)


METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def shared_metrics(settings: Settings, extra_worker: bool) -> None:
    """`--workers N`: every process counts into files of one folder and a scrape of any of them sums them all
    (prometheus-client's multiprocess mode), so /metrics answers the same whichever process the connection reached.
    The first process empties the folder at start; the others find it in their environment."""
    from prometheus_client import values

    if settings.workers > 1 and not extra_worker:
        folder = settings.data_dir.resolve() / "run" / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700, parents=True)
        os.environ[METRICS_ENV] = str(folder)
    if os.environ.get(METRICS_ENV):
        # prometheus-client picks its value class when first imported, which may have been before this.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def metrics_gone() -> None:
    """--workers N: this process's `live*` gauges (parts, reads in flight) leave the shared sums as it ends."""
    if os.environ.get(METRICS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def check_workers(settings: Settings) -> None:
    """Refuse, before anything starts, `--workers N --role sync` with DuckDB (N processes would each open it)."""
    if is_duckdb(settings) and settings.role == "sync":
        fail(FerryError(errors.CONFIG_ERROR, "--workers with --role sync needs a warehouse several processes can "
                        "open (postgresql:// or snowflake://): a DuckDB file is held by one process. Run one "
                        "`ferry serve --workers N` (role all): its first process syncs, the others ingest"))


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port that other processes may bind too (SO_REUSEPORT: the kernel spreads the
    connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise FerryError(errors.CANNOT_LISTEN, f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def start_workers(settings: Settings, log_level: str, extra_env: dict[str, str] | None = None
                  ) -> list[subprocess.Popen[bytes]]:
    """The N-1 extra processes: `ferry serve` on the same port (SO_REUSEPORT), each with its own writer."""
    # PostgreSQL / Snowflake: role `all`, each worker also answers warehouse reads and their schedulers take turns
    # under the per-schema advisory lock. DuckDB: role `ingest`, their warehouse calls go to the first process
    # (`extra_env` names its socket), the only one that opens the file and syncs.
    role = "ingest" if settings.role == "all" and is_duckdb(settings) else settings.role
    env = {**os.environ, **(extra_env or {}), "FERRY_ROLE": role, "FERRY_WORKERS": "1",
           WORKER_OF: str(os.getpid())}
    args = [sys.executable, "-m", "ferry.cli", "serve", "--host", settings.host, "--port", str(settings.port),
            "--data-dir", str(settings.data_dir), "--log-level", log_level, "--workers", "1"]
    return [subprocess.Popen(args, env=env) for _ in range(settings.workers - 1)]


def stop_workers(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every extra worker and wait for its graceful exit (it commits its in-flight calls first)."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=40)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def register(app: typer.Typer) -> None:
    """Add `ferry serve` to the CLI."""
    app.command("serve")(serve)
