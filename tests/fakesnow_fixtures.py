"""A fakesnow server (a subprocess speaking Snowflake's HTTP protocol, started by `snowflake/fakesnow_server.py`)
per session and fresh Snowflake schemas on it: fixtures of the Snowflake tests and of the end-to-end tests.

In CI (`CI=true`) a missing fakesnow or connector fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

DATABASE = "FERRY"


def _require_fakesnow(unavailable: Callable[[str], NoReturn]) -> None:
    try:
        import fakesnow  # noqa: F401
        import snowflake.connector  # noqa: F401
    except ImportError as exc:
        unavailable(f"fakesnow[server] and snowflake-connector-python are needed: pip install -e '.[test]' ({exc})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory,
                  unavailable: Callable[[str], NoReturn]) -> Iterator[int]:
    """A fakesnow server on a free port for the whole session (killed at the end)."""
    _require_fakesnow(unavailable)
    port = _free_port()
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "snowflake" / "fakesnow_server.py"), "-s",
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT,
                                # The server asks to die with this process (see fakesnow_server.py).
                                env={**os.environ, "FERRY_DIE_WITH_PARENT": str(os.getpid())})
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"fakesnow server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"fakesnow server did not listen on {port}: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=30)


def connect(port: int, **extra: Any) -> Any:
    """A plain connector session to the fakesnow server (for setting up and inspecting)."""
    import snowflake.connector

    return snowflake.connector.connect(user="fake", password="snow", account="fakesnow", host="127.0.0.1",
                                       port=port, protocol="http", **extra)


@pytest.fixture(scope="session")
def new_snowflake_url(fakesnow_port: int) -> Callable[[], str]:
    """A factory of `snowflake://` URLs, each to a fresh schema of database FERRY on the fakesnow server."""
    conn = connect(fakesnow_port)
    conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    conn.close()

    def make() -> str:
        schema = f"T_{uuid.uuid4().hex[:10].upper()}"
        boot = connect(fakesnow_port)
        try:
            boot.cursor().execute(f"CREATE SCHEMA {DATABASE}.{schema}")
        finally:
            boot.close()
        return (f"snowflake://fake:snow@fakesnow/{DATABASE}/{schema}"
                f"?host=127.0.0.1&port={fakesnow_port}&protocol=http&network_timeout=20")

    return make

