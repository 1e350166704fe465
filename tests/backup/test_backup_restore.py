"""`ferry backup` under load and `ferry restore`: every staged and synced row comes back once, the rows that were
not synced yet sync exactly once afterwards, and a restore never overwrites data without --force."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.config import Settings
from ferry.session import Session
from ferry.staging import StagingDatabase
from ferry.staging.warehouse_identity import verify
from ferry.sync.workflow import run_once
from ferry.warehouse import open_warehouse

runner = CliRunner()
SCHEMA = "nms:recipient"


def _staged(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT email, _state FROM ferry.rows_nms_recipient ORDER BY _seq").fetchall()


def _warehouse_emails(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT email FROM nms_recipient ORDER BY email").fetchall()]


def _env(staging_url: str, warehouse_url: str, data_dir: Path) -> dict[str, str]:
    return {"FERRY_DATABASE_URL": staging_url, "FERRY_WAREHOUSE_URL": warehouse_url, "FERRY_DATA_DIR": str(data_dir),
            "COLUMNS": "200"}


def _sync(settings: Settings) -> None:
    with StagingDatabase.open(settings) as db:
        warehouse = open_warehouse(settings.effective_warehouse_url)
        try:
            verify(db.pool, warehouse)  # FRY-500007 unless the restore moved staging's warehouse identity
            assert run_once(db, warehouse, SCHEMA, settings, wait=True).state == "succeeded"
        finally:
            warehouse.close()


def test_backup_under_load_then_restore_gives_every_row_once_and_syncs_the_rest_once(
        new_database: Callable[[], str], new_postgres_url: Callable[[], str], tmp_path: Path) -> None:
    staging_url, warehouse_url = new_database(), new_postgres_url()
    settings = Settings.from_env(database_url=staging_url, warehouse_url=warehouse_url, data_dir=tmp_path / "d1")
    stop = threading.Event()
    synced_once = threading.Event()
    failures: list[BaseException] = []

    def ingest(session: Session) -> None:
        count = 0
        while not stop.is_set() or count < 50:
            session.ingest({"xtkschema": SCHEMA, "email": f"{count}@x.com"})
            count += 1

    def sync(db: StagingDatabase) -> None:
        warehouse = open_warehouse(warehouse_url)
        try:
            verify(db.pool, warehouse)  # as a server does before its first run: staging records its warehouse
            while not stop.is_set():
                run_once(db, warehouse, SCHEMA, settings)
                synced_once.set()
        except BaseException as exc:
            failures.append(exc)
        finally:
            warehouse.close()

    with Session.open(settings) as session, StagingDatabase.open(settings) as sync_db:
        threads = [threading.Thread(target=ingest, args=(session,)), threading.Thread(target=sync, args=(sync_db,))]
        for thread in threads:
            thread.start()
        try:
            assert synced_once.wait(60)
            result = runner.invoke(app, ["backup", str(tmp_path / "bk")], env=_env(staging_url, warehouse_url,
                                                                                  tmp_path / "d1"))
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert not failures
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bk" / "manifest.json").exists()

    restored_staging, restored_warehouse = new_database(), new_postgres_url()
    env = _env(restored_staging, restored_warehouse, tmp_path / "d2")
    result = runner.invoke(app, ["restore", str(tmp_path / "bk")], env=env)
    assert result.exit_code == 0, result.output
    assert "staging now feeds the restored warehouse" in result.output
    rows = _staged(restored_staging)
    emails = [email for email, _ in rows]
    assert len(emails) == len(set(emails)) > 0  # every staged row once
    synced = sorted(email for email, state in rows if state == "synced")
    assert synced and any(state == "staged" for _, state in rows)  # the backup was taken mid-load
    assert _warehouse_emails(restored_warehouse) == synced  # the warehouse matches staging's synced rows, once each

    # The restored pair syncs on (no FRY-500007 for the moved warehouse): the rest exactly once.
    _sync(Settings.from_env(database_url=restored_staging, warehouse_url=restored_warehouse, data_dir=tmp_path / "d2"))
    assert {state for _, state in _staged(restored_staging)} == {"synced"}
    assert _warehouse_emails(restored_warehouse) == sorted(emails)

    # A second restore onto data refuses, then --force replaces it.
    refused = runner.invoke(app, ["restore", str(tmp_path / "bk")], env=env)
    assert refused.exit_code == 1
    assert "FRY-310002" in refused.output and "--force" in refused.output
    forced = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert [email for email, _ in _staged(restored_staging)] == emails


def _claim(settings: Settings) -> None:
    with StagingDatabase.open(settings) as db:
        warehouse = open_warehouse(settings.effective_warehouse_url)
        try:
            verify(db.pool, warehouse)  # what a server does before its first sync
        finally:
            warehouse.close()


def test_embedded_backup_restores_into_a_new_data_folder(tmp_path: Path) -> None:
    """The embedded defaults (PostgreSQL and DuckDB in the data folder), restored into another data folder."""
    source, target = tmp_path / "src", tmp_path / "dst"
    people = tmp_path / "people.ndjson"
    people.write_text('{"email": "a@x"}\n{"email": "b@x"}\n')
    env = {"FERRY_DATA_DIR": str(source), "COLUMNS": "200", "FERRY_DATABASE_URL": "", "FERRY_WAREHOUSE_URL": ""}
    for args in (["ingest", str(people), "--schema", SCHEMA], ["sync"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    _claim(Settings.from_env(data_dir=source, database_url=None, warehouse_url=None))
    result = runner.invoke(app, ["backup", str(tmp_path / "bk")], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["restore", str(tmp_path / "bk")], env={**env, "FERRY_DATA_DIR": str(target)})
    assert result.exit_code == 0, result.output
    assert "staging now feeds the restored warehouse" in result.output
    settings = Settings.from_env(data_dir=target, database_url=None, warehouse_url=None)
    with StagingDatabase.open(settings) as db:
        with db.pool.connection() as conn:
            rows = conn.execute("SELECT email, _state FROM ferry.rows_nms_recipient ORDER BY _seq").fetchall()
        warehouse = open_warehouse(settings.effective_warehouse_url)
        try:
            assert verify(db.pool, warehouse) is not None  # the copy in the new folder is the recorded warehouse
        finally:
            warehouse.close()
    assert rows == [("a@x", "synced"), ("b@x", "synced")]
