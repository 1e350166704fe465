"""One data folder per project: commands and `Session.open()` run from a subfolder stage into the same embedded
PostgreSQL as commands run at the project's root (the nearest ferry.toml), and say so when they create it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.session import Session

runner = CliRunner()


@pytest.mark.slow
def test_subfolders_share_the_projects_embedded_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FERRY_DATA_DIR", "FERRY_CONFIG", "FERRY_DATABASE_URL", "FERRY_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    (project / "scripts" / "nightly").mkdir(parents=True)
    people = project / "people.ndjson"
    people.write_text('{"email": "a@x.com"}\n')
    env = {"COLUMNS": "200"}

    monkeypatch.chdir(project)
    first = runner.invoke(app, ["ingest", "people.ndjson", "--schema", "nms:recipient"], env=env)
    assert first.exit_code == 0, first.output
    data = project / "ferry-data"
    assert f"ferry: creating data folder {data} (data_dir in {project / 'ferry.toml'})" in first.stderr
    assert (data / "postgres" / "PG_VERSION").exists()

    monkeypatch.chdir(project / "scripts" / "nightly")
    with Session.open() as session:
        session.ingest({"xtkschema": "nms:recipient", "email": "b@x.com"})
    listing = runner.invoke(app, ["status", "--json"], env=env)
    assert listing.exit_code == 0, listing.output
    assert "creating" not in listing.stderr  # the folder exists now: nothing to announce
    assert '"staged": 2' in listing.stdout
    assert not (project / "scripts" / "nightly" / "ferry-data").exists()
