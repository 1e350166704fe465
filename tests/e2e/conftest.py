"""A real `ferry serve` subprocess (uvicorn on a free port) on a fresh database, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ferry.auth import Authenticator
from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.staging import StagingDatabase

NODE_DIR = Path(__file__).parent / "node"
STAGING_TABLE = "ferry_stg.dem_sampletable"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `ferry serve` and the database behind it."""

    url: str
    db_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def rows(self, columns: str = "_op, id, testcol1, testcol2") -> list[Any]:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(f"SELECT {columns} FROM {STAGING_TABLE} ORDER BY _seq").fetchall()

    def snapshot(self) -> tuple[int, int, int]:
        """Staged rows, recorded requests, and the highest sequence: unchanged means nothing was staged."""
        with psycopg.connect(self.db_url) as conn:
            staged = conn.execute(f"SELECT count(*), coalesce(max(_seq), 0) FROM {STAGING_TABLE}").fetchone()
            requests = conn.execute("SELECT count(*) FROM ferry.requests").fetchone()
        assert staged is not None and requests is not None
        return int(staged[0]), int(requests[0]), int(staged[1])


def apply_sample_schema(db_url: str, data_dir: Path) -> None:
    """`dem:sampleTable` with autoStg, applied through the staging catalog before the server starts."""
    settings = Settings.from_env(database_url=db_url, data_dir=data_dir)
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    with StagingDatabase.open(settings) as db:
        db.catalog.apply(load_schema_file(sample))


def start_server(db_url: str, folder: Path, *, log_level: str = "warning", **env: str) -> Server:
    """Start `ferry serve` and wait until `/r/test` answers."""
    folder.mkdir(parents=True, exist_ok=True)
    apply_sample_schema(db_url, folder / "data")
    port = _free_port()
    environ = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
               "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'warehouse.duckdb'}", **env}
    environ.pop("FERRY_CONFIG", None)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ferry.cli", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--data-dir", str(folder / "data"), "--log-level", log_level],
                                   stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ferry serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet: poll again
            if httpx.get(f"{url}/r/test", timeout=1).status_code == 200:
                return Server(url, db_url, process, log)
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"ferry serve did not answer within 60 s:\n{log.read_text()}")


def stop_server(server: Server) -> int:
    """SIGTERM, then wait for the graceful exit; returns the exit code."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return int(server.process.returncode)


@pytest.fixture(scope="module")
def server(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `ferry serve` per test module, with admin/secret."""
    running = start_server(new_database(), tmp_path_factory.mktemp("ferry-serve"))
    try:
        yield running
    finally:
        code = stop_server(running)
        assert code == 0, running.log.read_text()


@pytest.fixture(scope="session")
def launch() -> tuple[Callable[..., Server], Callable[[Server], int]]:
    """`(start_server, stop_server)` for tests that need a differently configured server."""
    return start_server, stop_server


def add_operator(server: Server, login: str, password: str, schemas: list[str]) -> None:
    """Create an operator in the server's database (what `ferry operator add` does)."""
    with ConnectionPool(server.db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        Authenticator(pool, Settings.from_env(database_url=server.db_url)).add_operator(login, password,
                                                                                        schemas=schemas)


@pytest.fixture(scope="session")
def operators() -> Callable[[Server, str, str, list[str]], None]:
    """`add_operator(server, login, password, schemas)`."""
    return add_operator


@pytest.fixture(scope="session")
def node_sdk(unavailable: Callable[[str], NoReturn]) -> Path:
    """The folder holding `node_modules/@adobe/acc-js-sdk`, installed with npm on first use (gitignored)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("Node.js and npm are required for the SDK end-to-end tests")
    if not (NODE_DIR / "node_modules" / "@adobe" / "acc-js-sdk").is_dir():
        # `npm ci` installs exactly the committed package-lock.json (acc-js-sdk 1.2.0 and its dependencies).
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                                text=True, timeout=300)
        if result.returncode != 0:
            pytest.fail(f"npm install failed:\n{result.stdout}\n{result.stderr}")
    return NODE_DIR
