"""The `ferry` command: init, schema apply / list, bulk ingest of every format, status."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ferry.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def run(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def staged(url: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT _op, email FROM ferry_stg.nms_recipient ORDER BY _seq").fetchall()


def test_init_then_apply_the_sample_schema(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "init", ".")
    assert (tmp_path / "ferry.toml").exists()
    sample = tmp_path / "schemas" / "dem_sampleTable.xml"
    assert 'autoStg="true"' in sample.read_text()
    assert "staging table created" in run(env, "schema", "apply", "schemas")
    assert "unchanged" in run(env, "schema", "apply", str(sample))
    listing = run(env, "schema", "list")
    assert "dem:sampleTable" in listing and "dem:sampleTableStg" in listing and "nms:recipient" in listing


def test_schema_apply_reports_a_malformed_file(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<srcSchema namespace='a' name='b'>\n<element name='b'>\n<attribute name='x' type='nope'/>"
                   "</element></srcSchema>")
    result = runner.invoke(app, ["schema", "apply", str(bad)], env=env)
    assert result.exit_code == 1
    assert "FRY-200002" in result.output and f"{bad}:3" in result.output


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "xml"])
def test_ingest_each_format_with_refusals_listed(env: dict[str, str], tmp_path: Path, fmt: str) -> None:
    records = [{"email": f"{i}@x.com", "firstName": f"N{i}"} for i in range(5)]
    records[2]["gender"] = "lots"
    path = tmp_path / f"people.{fmt}"
    if fmt == "ndjson":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif fmt == "json":
        path.write_text(json.dumps(records))
    elif fmt == "csv":
        path.write_text("email,firstName,gender\n" + "".join(
            f"{r['email']},{r['firstName']},{r.get('gender', '')}\n" for r in records))
    else:
        path.write_text("<recipient-collection>" + "".join(
            "<recipient " + " ".join(f'{k}="{v}"' for k, v in r.items()) + "/>" for r in records)
            + "</recipient-collection>")
    result = runner.invoke(app, ["ingest", str(path), "--schema", "nms:recipient", "--chunk", "2"], env=env)
    assert result.exit_code == 2, result.output
    assert "4 records staged" in result.output and "1 refused" in result.output
    assert "Record 3" in result.output and "FRY-100006" in result.output
    assert [email for _, email in staged(env["FERRY_DATABASE_URL"])] == ["0@x.com", "1@x.com", "3@x.com", "4@x.com"]
    with psycopg.connect(env["FERRY_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM ferry.requests WHERE origin = 'import'").fetchone() == (2,)


def test_ingest_a_latin1_csv_refuses_the_bad_row_with_a_code_then_reads_it_with_encoding(
        env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("email,firstName\na@x,Ann\nb@x,Zoë\nc@x,Cy\n".encode("latin-1"))
    result = runner.invoke(app, ["ingest", str(path), "--schema", "nms:recipient"], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "FRY-100030" in result.output and "Record 2 (line 3)" in result.output
    assert [email for _, email in staged(env["FERRY_DATABASE_URL"])] == ["a@x", "c@x"]
    path.write_bytes("email,firstName\nb@x,Zoë\n".encode("latin-1"))
    run(env, "ingest", str(path), "--schema", "nms:recipient", "--encoding", "latin-1")
    with psycopg.connect(env["FERRY_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT \"firstName\" FROM ferry_stg.nms_recipient WHERE email = 'b@x'").fetchone() == (
            "Zoë",)


def test_ingest_ext_file(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "changes.ndjson"
    path.write_text('{"_key": "@email", "email": "a@x", "firstName": "A"}\n'
                    '{"_key": "@email", "_operation": "delete", "email": "b@x"}\n')
    run(env, "ingest", str(path), "--schema", "nms:recipient", "--ext")
    assert staged(env["FERRY_DATABASE_URL"]) == [("insertOrUpdate", "a@x"), ("delete", "b@x")]


def test_status_shows_rows_per_state(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "p.ndjson"
    path.write_text('{"email": "a@x"}\n{"email": "b@x"}\n')
    run(env, "ingest", str(path), "--schema", "nms:recipient")
    output = run(env, "status")
    line = next(row for row in output.splitlines() if "nms:recipient" in row)
    cells = line.split("\t")  # not a terminal: tab-separated full rows
    assert cells[1] == "2"


def test_status_shows_the_last_sync(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "FERRY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}"}
    path = tmp_path / "p.ndjson"
    path.write_text('{"email": "a@x"}\n{"email": "b@x"}\n')
    run(env, "ingest", str(path), "--schema", "nms:recipient")
    before = next(row for row in run(env, "status").splitlines() if "nms:recipient" in row)
    assert "never" in before
    run(env, "sync", "nms:recipient", "--wait")
    after = next(row for row in run(env, "status").splitlines() if "nms:recipient" in row)
    cells = after.split("\t")
    assert cells[1:5] == ["0", "2", "0", "0"]
    assert cells[5] == "-"
    assert cells[7] == "succeeded"
