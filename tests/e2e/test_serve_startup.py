"""`ferry serve` startup: one server per data folder, "listening" only once bound, FERRY_ADMIN_PASSWORD ignored
out loud once operators exist."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def _serve(folder: Path, db_url: str, port: int) -> subprocess.CompletedProcess[str]:
    """Run `ferry serve` the way start_server does, expecting it to stop on its own (an error)."""
    env = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
           "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'warehouse.duckdb'}"}
    env.pop("FERRY_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "ferry.cli", "serve", "--port", str(port), "--data-dir",
                           str(folder / "data"), "--log-level", "warning"], env=env, cwd=folder, capture_output=True,
                          text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_second_server_on_the_same_data_folder_names_the_first(new_database: Callable[[], str], tmp_path: Path,
                                                                 launch: Any) -> None:
    start_server, stop_server = launch
    db_url = new_database()
    first = start_server(db_url, tmp_path)
    try:
        second = _serve(tmp_path, db_url, _free_port())
    finally:
        assert stop_server(first) == 0, first.log.read_text()
    out = second.stdout + second.stderr
    assert second.returncode == 1, out
    pid = first.process.pid
    assert f"FRY-300005 ferry is already running here (PID {pid}); stop it with `kill {pid}`" in out
    assert "listening" not in out and "DuckDB" not in second.stderr.replace(str(tmp_path), "")
    assert not (tmp_path / "data" / "ferry.pid").exists()  # the first server removed its lock on exit


def test_a_taken_port_fails_before_listening(new_database: Callable[[], str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(tmp_path, new_database(), port)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"FRY-400014 cannot listen on 127.0.0.1:{port}" in out
    assert "listening" not in out


def test_admin_password_ignored_once_operators_exist_is_said(new_database: Callable[[], str], tmp_path: Path,
                                                            launch: Any) -> None:
    start_server, stop_server = launch
    db_url = new_database()
    first = start_server(db_url, tmp_path / "one")
    assert stop_server(first) == 0
    assert "FERRY_ADMIN_PASSWORD is ignored" not in first.log.read_text()
    again = start_server(db_url, tmp_path / "two", FERRY_ADMIN_PASSWORD="changed")
    assert stop_server(again) == 0
    log = again.log.read_text()
    assert "FERRY_ADMIN_PASSWORD is ignored: operators exist already" in log
    assert "ferry operator passwd" in log
