"""Duplicated keys: the Snowflake adapter refuses rows on them and never makes them worse; `ferry doctor unicity`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sf_helpers import sync
from sync_helpers import call, item_schema, open_staging
from typer.testing import CliRunner

from ferry.cli.doctor_cmd import find_duplicates, unicity
from ferry.cli.main import app
from ferry.ingest import Method
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse


def test_rows_on_a_duplicated_key_fail_and_change_nothing(new_database: Callable[[], str], snowflake_url: str,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staging_url = new_database()
    db, settings = open_staging(staging_url, tmp_path / "data")
    warehouse = open_warehouse(snowflake_url)
    try:
        assert isinstance(warehouse, SnowflakeWarehouse)
        schema = item_schema(db)
        # Keyless Ingest calls insert new records: two of them share an email, as Campaign allows.
        db.store.stage([call(db, Method.INGEST, ({"email": "dup", "note": "first"}, None, None),
                             ({"email": "dup", "note": "second"}, None, None), ({"email": "one"}, None, None))])
        sync(db, warehouse, settings, 1000)
        before = sorted((r["id"], r["note"], r["a"]) for r in warehouse.read(schema) if r["email"] == "dup")
        assert warehouse.duplicates(schema, ("email",)) == [(("dup",), 2)]

        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "dup", "a": "x"}, "@email", None),
                             ({"email": "dup", "note": "third"}, "@email", "insert"),
                             ({"email": "dup"}, "@email", "delete"),
                             ({"email": "one", "a": "y"}, "@email", "update"))])
        db.store.stage([call(db, Method.INGEST, ({"email": "dup"}, "@email", None))])
        sync(db, warehouse, settings, 1000)

        with db.pool.connection() as conn:
            rows = conn.execute("SELECT email, _state, _reason FROM ferry.rows_tst_item WHERE _seq > 3 "
                                "ORDER BY _seq").fetchall()
        reason = ("FRY-800010 duplicated key in the warehouse: tst:item @email='dup' is held by 2 records; "
                  "the row was not applied (see ferry doctor unicity)")
        assert rows == [("dup", "failed", reason)] * 3 + [("one", "synced", None), ("dup", "failed", reason)]
        after = sorted((r["id"], r["note"], r["a"]) for r in warehouse.read(schema) if r["email"] == "dup")
        assert after == before  # no third copy, no update hiding one of them, nothing deleted
        assert [r["a"] for r in warehouse.read(schema) if r["email"] == "one"] == ["y"]

        # An id duplicated by some other tool writing to the warehouse.
        first_id = before[0][0]
        warehouse._run('INSERT INTO "tst_item" ("id", "email") VALUES (%s, %s)', (first_id, "copy"))
        findings = unicity(warehouse, [schema])
        assert [(f.key_definition, f.key_type, f.value, f.count) for f in findings] == [
            ("@id", "Primary Key", first_id, 2), ("@email", "Key email", "dup", 2)]
    finally:
        warehouse.close()
        db.close()

    monkeypatch.setenv("FERRY_DATABASE_URL", staging_url)
    monkeypatch.setenv("FERRY_WAREHOUSE_URL", snowflake_url)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["doctor", "unicity", "tst:item", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1, result.output
    for text in ("Schema Id\tKey Definition", "Schema Id", "Key Definition", "Duplicated Count",
                 "tst:item", "@email", "Key email", "dup", "Primary Key", first_id):
        assert text in result.output
    result = CliRunner().invoke(app, ["doctor", "unicity", "--json", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    # The CLI's camelCase vocabulary (as REST and every other --json), not the dataclass's field names.
    assert {"schema": "tst:item", "keyDefinition": "@email", "keyType": "Key email", "value": "dup",
            "count": 2} in lines


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_doctor_works_on_every_warehouse(engine: str, new_database: Callable[[], str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB and PostgreSQL have no `duplicates` method: the doctor's SQL fallback finds the same things."""
    from sync_helpers import pg_url

    staging_url = new_database()
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if engine == "duckdb" else pg_url(new_database())
    db, settings = open_staging(staging_url, tmp_path / "data")
    warehouse = open_warehouse(url)
    try:
        schema = item_schema(db)
        db.store.stage([call(db, Method.INGEST, ({"email": "dup"}, None, None), ({"email": "dup"}, None, None),
                             ({"email": "solo"}, None, None))])
        sync(db, warehouse, settings, 1000)
        assert find_duplicates(warehouse, schema, ("email",)) == [(("dup",), 2)]
        assert find_duplicates(warehouse, schema, ("id",)) == []
    finally:
        warehouse.close()
        db.close()
    monkeypatch.setenv("FERRY_DATABASE_URL", staging_url)
    monkeypatch.setenv("FERRY_WAREHOUSE_URL", url)
    result = CliRunner().invoke(app, ["doctor", "unicity", "--json", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1, result.output
    assert [json.loads(line)["value"] for line in result.output.splitlines()] == ["dup"]
