"""`ferry service add / list / disable` and `ferry sync nms:subscription`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.subscriptions import requests as rq

runner = CliRunner()


def test_service_commands_and_sync(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERRY_CONFIG", raising=False)
    env = {"FERRY_DATABASE_URL": database_url, "COLUMNS": "200", "FERRY_DATA_DIR": str(tmp_path / "data")}
    ok = runner.invoke(app, ["service", "add", "news", "--label", "Newsletter", "--channel", "email"], env=env)
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(app, ["service", "add", "alerts", "--channel", "sms", "--validity-days", "7"], env=env)
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["service", "add", "news"], env=env)
    assert again.exit_code == 1 and "FRY-110003" in again.output
    bad = runner.invoke(app, ["service", "add", "x", "--channel", "pigeon"], env=env)
    assert bad.exit_code == 1 and "FRY-110004" in bad.output
    assert runner.invoke(app, ["service", "disable", "alerts"], env=env).exit_code == 0
    assert "FRY-110001" in runner.invoke(app, ["service", "disable", "nope"], env=env).output
    listed = runner.invoke(app, ["service", "list"], env=env).output
    assert "news" in listed and "Newsletter" in listed and "sms" in listed and "yes" in listed
    settings = Settings.from_env(database_url=database_url, data_dir=tmp_path / "data")
    with StagingDatabase.open(settings) as db:
        ann = rq.recipient_from_json(db.registry, {"email": "ann@x.com"})
        db.store.stage([rq.build_request(db.pool, rq.SUBSCRIBE, "news", ann, create=True, origin="admin")])
    synced = runner.invoke(app, ["sync", "nms:subscription"], env=env)
    assert synced.exit_code == 0, synced.output
    assert "succeeded" in synced.output
