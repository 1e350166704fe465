"""`ferry sync` and `ferry workflows` through the Typer app."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ferry.cli.main import app

runner = CliRunner()


def test_sync_then_workflows(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERRY_CONFIG", raising=False)
    monkeypatch.delenv("FERRY_WAREHOUSE_URL", raising=False)
    env = {"FERRY_DATABASE_URL": database_url, "COLUMNS": "200"}
    (tmp_path / "r.ndjson").write_text('{"email": "a@b"}\n{"email": "c@d"}\n', encoding="utf-8")
    data = ["--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, ["ingest", "r.ndjson", "--schema", "nms:recipient", *data], env=env).exit_code == 0

    result = runner.invoke(app, ["sync", "nms:recipient", "--wait", *data], env=env)
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
    with psycopg.connect(database_url) as conn:
        states = conn.execute("SELECT _state FROM ferry.rows_nms_recipient").fetchall()
    assert states == [("synced",), ("synced",)]

    history = runner.invoke(app, ["workflows", *data], env=env)
    assert history.exit_code == 0, history.output
    assert "ffdaReplicateStagingData" in history.output and "nms:recipient" in history.output

    unknown = runner.invoke(app, ["sync", "nope:x", *data], env=env)
    assert unknown.exit_code == 1 and "FRY-100003" in unknown.output
