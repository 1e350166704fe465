"""One `ferry serve` per data folder: the PID lock file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferry.errors import FerryError
from ferry.server.process.pidfile import PID_FILE, PidFile


def test_a_second_holder_is_told_who_runs_and_how_to_stop_it(tmp_path: Path) -> None:
    first = PidFile(tmp_path / "data")
    first.acquire()
    assert (tmp_path / "data" / PID_FILE).read_text() == f"{os.getpid()}\n"
    with pytest.raises(FerryError) as caught:
        PidFile(tmp_path / "data").acquire()
    assert caught.value.code.code == "FRY-300005"
    pid = os.getpid()
    assert caught.value.message == f"ferry is already running here (PID {pid}); stop it with `kill {pid}`"
    first.release()
    assert not (tmp_path / "data" / PID_FILE).exists()
    again = PidFile(tmp_path / "data")
    again.acquire()
    again.release()


def test_a_stale_file_left_by_a_killed_server_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / PID_FILE).write_text("999999999\n")  # no lock is held on it: its process is gone
    lock = PidFile(tmp_path)
    lock.acquire()
    assert (tmp_path / PID_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()
