"""`ferry operator add --read` stores read-only rights; `ferry operator unlock` on a login that is not locked."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from ferry.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def test_add_with_read_rights(env: dict[str, str], database_url: str) -> None:
    added = runner.invoke(app, ["operator", "add", "viewer", "--schema", "dem:sampleTable", "--read",
                                "nms:subscription", "--read", "nms:recipient", "--password-stdin"],
                          input="pw-viewer\n", env=env)
    assert added.exit_code == 0, added.output
    assert "nms:subscription (read)" in added.output
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT schemas, read_schemas FROM ferry.operators WHERE login = 'viewer'").fetchone()
    assert row == (["dem:sampleTable"], ["nms:recipient", "nms:subscription"])
    bad = runner.invoke(app, ["operator", "add", "x", "--read", "not a schema", "--password-stdin"], input="pw\n",
                        env=env)
    assert bad.exit_code != 0 and "FRY-600007" in bad.output


def test_unlock_a_login_that_is_not_locked(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["operator", "unlock", "nobody"], env=env)
    assert result.exit_code == 0 and "was not locked" in result.output
