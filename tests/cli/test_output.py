"""CLI output a person and a script can use: --json, tables folded to the terminal, --version, plain labels, and
the operator commands passwd / enable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ferry
from ferry.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**cli_env, "FERRY_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}", "COLUMNS": "80"}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_of_every_listing(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "p.ndjson").write_text('{"email": "a@x"}\n{"email": "b@x"}\n')
    run(env, "ingest", "p.ndjson", "--schema", "nms:recipient")
    run(env, "sync", "nms:recipient", "--wait")
    run(env, "operator", "add", "ann", "--schema", "nms:recipient", stdin="pw\n")
    run(env, "service", "add", "news", "--label", "News")

    status = {row["schema"]: row for row in json.loads(run(env, "status", "--json"))}
    assert status["nms:recipient"]["counts"]["synced"] == 2 and status["nms:recipient"]["counts"]["staged"] == 0
    assert status["nms:recipient"]["lastState"] == "succeeded"
    # One vocabulary with REST (GET /api/v1/workflows): schema, startedAt, rows.
    runs = json.loads(run(env, "workflows", "--json"))
    assert runs[0]["workflow"] == "ffdaReplicateStagingData" and runs[0]["state"] == "succeeded"
    assert runs[0]["schema"] == "nms:recipient" and runs[0]["startedAt"].startswith("20")
    assert runs[0]["rows"]["inserted"] == 2
    schemas = {row["id"]: row for row in json.loads(run(env, "schema", "list", "--json"))}
    assert schemas["nms:recipient"]["staged"] is True
    assert schemas["nms:recipient"]["stagingId"] == "nms:recipientStg"
    operators = json.loads(run(env, "operator", "list", "--json"))
    assert operators == [{"login": "ann", "admin": False, "schemas": ["nms:recipient"], "disabled": False}]
    services = json.loads(run(env, "service", "list", "--json"))
    assert services == [{"name": "news", "label": "News", "channel": "email", "validityDays": None,
                         "disabled": False}]
    run(env, "service", "disable", "news")
    assert json.loads(run(env, "service", "list", "--json"))[0]["disabled"] is True
    assert "enabled" in run(env, "service", "enable", "news")
    assert json.loads(run(env, "service", "list", "--json"))[0]["disabled"] is False


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def terminal(env: dict[str, str], *args: str, columns: int) -> str:
    """The output as a terminal `columns` wide shows it (escape codes removed)."""
    return ANSI.sub("", run({**env, "TTY_COMPATIBLE": "1", "COLUMNS": str(columns)}, *args))


def test_tables_fold_on_a_terminal_and_become_blocks_when_it_is_too_narrow(env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    (tmp_path / "p.ndjson").write_text('{"email": "a@x"}\n')
    run(env, "ingest", "p.ndjson", "--schema", "nms:recipient")
    run(env, "sync", "nms:recipient", "--wait")
    for command in (["workflows"], ["status"], ["schema", "list"]):
        output = terminal(env, *command, columns=80)
        assert "…" not in output, output
        assert max(len(line) for line in output.splitlines()) <= 80
    wide = terminal(env, "status", columns=200)
    assert "│" in wide and "nms:recipient" in wide  # a table when it fits
    narrow = terminal(env, "workflows", columns=80)  # 12 columns do not fit 80: one block per run
    assert "│" not in narrow
    assert re.search(r"^workflow\s+ffdaReplicateStagingData$", narrow, re.M)
    assert re.search(r"^state\s+succeeded$", narrow, re.M)


def test_piped_tables_are_tab_separated_full_rows(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "p.ndjson").write_text('{"email": "a@x"}\n')
    run(env, "ingest", "p.ndjson", "--schema", "nms:recipient")
    run(env, "sync", "nms:recipient", "--wait")
    header, *rows = run({**env, "COLUMNS": "40"}, "workflows").splitlines()
    assert header.split("\t")[:4] == ["started (UTC)", "workflow", "schema", "state"]
    assert rows[0].split("\t")[1:4] == ["ffdaReplicateStagingData", "nms:recipient", "succeeded"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"ferry {ferry.__version__}"


@pytest.mark.parametrize("command", [["operator", "add"], ["ingest"], ["serve"], ["sync"], ["workflows"], []])
def test_help_shows_plain_labels(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert not re.search(r"<[a-z][a-z\[\]| ]*>", result.stdout), result.stdout
    assert "{" not in result.stdout.split("\n", 3)[1]  # usage line: LOGIN, not {login}


def test_help_labels_say_what_to_type() -> None:
    text = runner.invoke(app, ["ingest", "--help"], env={"COLUMNS": "120"}).stdout
    assert re.search(r"--schema\s+TEXT", text) and re.search(r"--chunk\s+INTEGER", text)
    assert re.search(r"--format\s+xml\|json\|ndjson\|csv", text) and "Usage: ferry ingest [OPTIONS] FILE" in text
    assert re.search(r"--ext\s+IngestExt", text)  # a flag: no label at all


def test_passwd_and_enable(env: dict[str, str], database_url: str) -> None:
    from psycopg_pool import ConnectionPool

    from ferry.auth import Authenticator
    from ferry.config import Settings
    from ferry.errors import FerryError

    run(env, "operator", "add", "ann", "--admin", stdin="old\n")
    assert "changed" in run(env, "operator", "passwd", "ann", "--password-stdin", stdin="new\n")
    run(env, "operator", "disable", "ann")
    assert "enabled" in run(env, "operator", "enable", "ann")
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        auth = Authenticator(pool, Settings.from_env(database_url=database_url))
        assert auth.logon("ann", "new").operator.login == "ann"
        with pytest.raises(FerryError):
            auth.logon("ann", "old")
    unknown = runner.invoke(app, ["operator", "enable", "bob"], env=env)
    assert unknown.exit_code == 1 and "FRY-600006" in unknown.output


def test_ingest_report_counts_in_words_and_starts_at_once(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("email,gender\na@x,\nb@x,lots\n")
    result = runner.invoke(app, ["ingest", "one.csv", "--schema", "nms:recipient"], env=env)
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1 record staged into nms:recipient (1 request), 1 refused"
    assert lines[1].startswith("  FRY-100006 Record 2 (line 3): ")


def test_workflows_filter_by_schema_option_and_state(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "p.ndjson").write_text('{"email": "a@x"}\n')
    run(env, "ingest", "p.ndjson", "--schema", "nms:recipient")
    run(env, "sync", "nms:recipient", "--wait")
    assert [r["schema"] for r in json.loads(run(env, "workflows", "--schema", "nms:recipient", "--json"))] == [
        "nms:recipient"]
    assert json.loads(run(env, "workflows", "--schema", "nms:service", "--json")) == []
    assert json.loads(run(env, "workflows", "--state", "failed", "--json")) == []
    assert len(json.loads(run(env, "workflows", "--state", "failed", "--state", "succeeded", "--json"))) == 1
    refused = runner.invoke(app, ["workflows", "--state", "bad"], env=env)
    assert refused.exit_code == 2 and "unknown state bad" in refused.output
