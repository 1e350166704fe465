"""bench/run writes its JSON table in the shape other tools read (a tiny unitary run; no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run"
KEYS = {"scenario", "ferry", "anchor", "ratio", "target", "unit"}


def test_quick_json_shape(pg_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "FERRY_BENCH_DATABASE_URL": pg_admin_url}
    subprocess.run([sys.executable, str(BENCH), "--quick", "--only", "unitary", "--repeats", "1", "--sizes",
                    '{"clients": [2], "worker_clients": [2], "unitary_calls": 20}', "--json", str(out), "--markdown",
                    str(tmp_path / "bench.md")], env=env, check=True, capture_output=True, timeout=180)
    rows = json.loads(out.read_text())
    assert [row["scenario"] for row in rows] == ["unitary SOAP 2 clients", "unitary REST 2 clients",
                                                 "unitary SOAP 2 clients, --workers 2",
                                                 "unitary REST 2 clients, --workers 2"]
    for row in rows:
        assert set(row) == KEYS
        assert row["ferry"] > 0 and row["anchor"] > 0 and row["unit"] == "calls/s"
    assert "| scenario | ferry | anchor | ratio | target | unit |" in (tmp_path / "bench.md").read_text()


def test_quick_raw_driver(pg_admin_url: str, tmp_path: Path) -> None:
    """The lean load driver (`unitary_driver: raw`) drives the same calls and says so in the notes."""
    out, notes = tmp_path / "bench.json", tmp_path / "bench.md"
    env = {**os.environ, "FERRY_BENCH_DATABASE_URL": pg_admin_url}
    subprocess.run([sys.executable, str(BENCH), "--quick", "--only", "unitary", "--repeats", "1", "--sizes",
                    '{"clients": [2], "worker_clients": [], "unitary_calls": 20, "unitary_driver": "raw"}',
                    "--json", str(out), "--markdown", str(notes)], env=env, check=True, capture_output=True,
                   timeout=180)
    rows = json.loads(out.read_text())
    assert [row["scenario"] for row in rows] == ["unitary SOAP 2 clients", "unitary REST 2 clients"]
    assert all(row["ferry"] > 0 for row in rows)
    assert notes.read_text().count("load generator (raw)") == 2
