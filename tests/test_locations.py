"""The one stderr line saying which folder and databases a process is about to create."""

from __future__ import annotations

import io
from pathlib import Path

from ferry.config import Settings
from ferry.locations import announce, describe


def test_a_new_data_folder_is_announced_once_created(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    out = io.StringIO()
    announce(settings, out)
    line = out.getvalue()
    assert line.count("\n") == 1
    assert line.startswith(f"ferry: creating data folder {tmp_path / 'data'} (--data-dir)")
    assert f"embedded PostgreSQL in {tmp_path / 'data' / 'postgres'}" in line
    assert f"DuckDB {tmp_path / 'data' / 'warehouse.duckdb'}" in line
    (tmp_path / "data" / "postgres").mkdir(parents=True)
    (tmp_path / "data" / "postgres" / "PG_VERSION").write_text("17")
    quiet = io.StringIO()
    announce(settings, quiet)
    assert quiet.getvalue() == ""


def test_configured_urls_are_named_without_their_password(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path, database_url="postgresql://ferry:s3cret@db.example/ferry",
                                 warehouse_url="postgresql://wh:pw@wh.example/dw?sslmode=require")
    text = describe(settings)
    assert "s3cret" not in text and "pw@" not in text
    assert "PostgreSQL postgresql://ferry:***@db.example/ferry" in text
    assert "warehouse: postgresql://wh:***@wh.example/dw" in text


def test_a_configured_staging_announces_a_new_warehouse_folder(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data", database_url="postgresql://db.example/ferry")
    out = io.StringIO()
    announce(settings, out)
    assert f"warehouse: DuckDB {tmp_path / 'data' / 'warehouse.duckdb'}" in out.getvalue()
    (tmp_path / "data").mkdir()
    quiet = io.StringIO()
    announce(settings, quiet)
    assert quiet.getvalue() == ""


def test_the_per_user_data_folder_is_named_each_time_a_project_folder_is_not(tmp_path: Path) -> None:
    (tmp_path / "data" / "postgres").mkdir(parents=True)
    (tmp_path / "data" / "postgres" / "PG_VERSION").write_text("17")
    default = Settings(data_dir=tmp_path / "data", data_dir_origin="per-user default")
    out = io.StringIO()
    announce(default, out)
    assert out.getvalue().startswith(f"ferry: using data folder {tmp_path / 'data'} (per-user default)")
    assert "no ferry.toml here or above" in out.getvalue()
    chosen = Settings(data_dir=tmp_path / "data", data_dir_origin="--data-dir")
    quiet = io.StringIO()
    announce(chosen, quiet)
    assert quiet.getvalue() == ""
