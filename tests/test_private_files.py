"""The data folder is 0700 and the warehouse file and its WAL 0600 (issue 27, item 5): created so by the `ferry`
command, and tightened when an older ferry left them open to every local user."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.warehouse import open_warehouse


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def restored_umask() -> Iterator[None]:
    """The `ferry` command sets the process's umask to 077; the test process gets its own back."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_the_ferry_command_makes_the_data_folder_and_warehouse_private(cli_env: dict[str, str], tmp_path: Path,
                                                                       restored_umask: None) -> None:
    data = tmp_path / "data"
    env = {**cli_env, "FERRY_DATA_DIR": str(data)}
    people = tmp_path / "people.ndjson"
    people.write_text('{"email": "a@x.com"}\n')
    ingested = CliRunner().invoke(app, ["ingest", str(people), "--schema", "nms:recipient"], env=env)
    assert ingested.exit_code == 0, ingested.output
    synced = CliRunner().invoke(app, ["sync", "nms:recipient"], env=env)
    assert synced.exit_code == 0, synced.output
    warehouse = data / "warehouse.duckdb"
    assert mode(data) == 0o700 and mode(warehouse) == 0o600
    # DuckDB re-creates its WAL after each checkpoint: under the command's umask it is private too.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE probe (a INTEGER)")
        con.execute("INSERT INTO probe VALUES (1)")
        assert mode(Path(str(warehouse) + ".wal")) == 0o600


def test_an_open_data_folder_and_warehouse_are_tightened(settings: Settings, tmp_path: Path,
                                                         restored_umask: None) -> None:
    data = settings.data_dir
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    warehouse = data / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
    os.chmod(warehouse, 0o644)
    assert mode(data) == 0o755 and mode(warehouse) == 0o644  # as an older ferry left them
    with StagingDatabase.open(settings):
        assert mode(data) == 0o700
    opened = open_warehouse(f"duckdb://{warehouse}")
    try:
        assert mode(warehouse) == 0o600
    finally:
        opened.close()
    # A folder made for a warehouse file elsewhere is private from the start.
    elsewhere = open_warehouse(f"duckdb://{tmp_path / 'new' / 'w.duckdb'}")
    elsewhere.close()
    assert mode(tmp_path / "new") == 0o700
