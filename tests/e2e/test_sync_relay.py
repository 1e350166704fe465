"""Commands run beside `ferry serve` while it holds the DuckDB warehouse: `ferry sync` is run by the server's
scheduler, `ferry doctor unicity` runs its queries in the server, `ferry backup` has it copy the file (one server for
the module)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import psycopg
import pytest

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.session import Session
from ferry.warehouse import open_warehouse
from ferry.warehouse.tables import table_name

DUPLICATED = "twice@example.com"


@dataclass
class Beside:
    """The running server's staging URL and folder, and the environment of a command run beside it."""

    db_url: str
    folder: Path
    env: dict[str, str]

    def ferry(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ferry.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=120, cwd=self.folder)


def _warehouse_with_a_duplicated_id(path: Path) -> None:
    """A warehouse file where two records share one email (as another tool could write into a keyless warehouse)."""
    schema = load_schema_file(Path(str(resources.files("ferry.schema") / "builtin" / "nms_recipient.xml")))
    warehouse = open_warehouse(f"duckdb://{path}")
    try:
        warehouse.ensure_table(schema)
    finally:
        warehouse.close()
    con = duckdb.connect(str(path))
    try:
        for _ in range(2):
            con.execute(f"INSERT INTO {table_name(schema)} (email) VALUES (?)", [DUPLICATED])
    finally:
        con.close()


@pytest.fixture(scope="module")
def beside(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory,
           launch: tuple[Callable[..., object], Callable[[object], int]]) -> Iterator[Beside]:
    start, stop = launch
    db_url, folder = new_database(), tmp_path_factory.mktemp("relay")
    _warehouse_with_a_duplicated_id(folder / "warehouse.duckdb")
    server = start(db_url, folder)
    env = {**os.environ, "FERRY_DATABASE_URL": db_url, "COLUMNS": "200", "FERRY_DATA_DIR": str(folder / "data"),
           "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'warehouse.duckdb'}"}
    try:
        yield Beside(db_url, folder, env)
    finally:
        stop(server)


def test_ferry_sync_is_relayed_to_the_running_server(beside: Beside) -> None:
    with Session.open(Settings.from_env(database_url=beside.db_url, data_dir=beside.folder / "data")) as session:
        session.ingest({"xtkschema": "dem:sampleTable", "testcol1": "relayed"})
    result = beside.ferry("sync", "dem:sampleTable", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "running `ferry serve`" in result.stdout
    assert "succeeded" in result.stdout
    with psycopg.connect(beside.db_url) as conn:
        states = conn.execute("SELECT _state FROM ferry.rows_dem_sampletable").fetchall()
        request = conn.execute("SELECT taken_at IS NOT NULL, cardinality(run_ids) FROM ferry.sync_requests"
                               ).fetchone()
    assert states == [("synced",)]
    assert request == (True, 1)


def test_doctor_unicity_runs_in_the_server_and_exits_1_for_duplicates_2_when_it_cannot_run(beside: Beside) -> None:
    found = beside.ferry("doctor", "unicity", "nms:recipient", "--json")
    assert found.returncode == 1, found.stdout + found.stderr
    assert DUPLICATED in found.stdout and '"count": 2' in found.stdout
    cannot = beside.ferry("doctor", "unicity", "dem:noSuchTable")
    assert cannot.returncode == 2, cannot.stdout + cannot.stderr
    assert "FRY-100003" in cannot.stderr


def test_backup_beside_the_server_has_the_server_copy_its_duckdb_file(beside: Beside, new_database: Callable[[], str],
                                                                     tmp_path: Path) -> None:
    with Session.open(Settings.from_env(database_url=beside.db_url, data_dir=beside.folder / "data")) as session:
        session.ingest({"xtkschema": "dem:sampleTable", "testcol1": "before the backup"})
    synced = beside.ferry("sync", "dem:sampleTable", "--wait")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    backup = beside.ferry("backup", str(tmp_path / "bk"))
    assert backup.returncode == 0, backup.stdout + backup.stderr
    restored_db, restored_wh = new_database(), tmp_path / "restored" / "warehouse.duckdb"
    env = {**beside.env, "FERRY_DATABASE_URL": restored_db, "FERRY_DATA_DIR": str(tmp_path / "d"),
           "FERRY_WAREHOUSE_URL": f"duckdb://{restored_wh}"}
    restore = subprocess.run([sys.executable, "-m", "ferry.cli", "restore", str(tmp_path / "bk")], env=env,
                             capture_output=True, text=True, timeout=120)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    con = duckdb.connect(str(restored_wh))
    try:
        assert con.execute("SELECT count(*) FROM nms_recipient WHERE email = ?", [DUPLICATED]).fetchone() == (2,)
        found = {row[0] for row in con.execute("SELECT testcol1 FROM dem_sampletable").fetchall()}
    finally:
        con.close()
    assert "before the backup" in found
    with psycopg.connect(restored_db) as conn:
        assert conn.execute("SELECT count(*) FROM ferry.rows_dem_sampletable WHERE _state = 'synced' "
                            "AND testcol1 = 'before the backup'").fetchone() == (1,)
