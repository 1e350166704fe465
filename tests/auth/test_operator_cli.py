"""`ferry operator add|list|disable` against a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from ferry.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def test_add_list_disable(env: dict[str, str], database_url: str) -> None:
    added = runner.invoke(app, ["operator", "add", "ann", "--schema", "nms:recipient", "--password-stdin"],
                          input="pw-ann\n", env=env)
    assert added.exit_code == 0, added.output
    assert "ann" in added.output and "nms:recipient" in added.output
    admin = runner.invoke(app, ["operator", "add", "root", "--admin"], input="pw\npw\n", env=env)
    assert admin.exit_code == 0, admin.output
    listing = runner.invoke(app, ["operator", "list"], env=env)
    assert listing.exit_code == 0
    assert "ann" in listing.output and "root" in listing.output and "nms:recipient" in listing.output
    disabled = runner.invoke(app, ["operator", "disable", "ann"], env=env)
    assert disabled.exit_code == 0, disabled.output
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT login, admin, disabled, password_hash FROM ferry.operators ORDER BY login")
        found = rows.fetchall()
    assert [(r[0], r[1], r[2]) for r in found] == [("ann", False, True), ("root", True, False)]
    assert all(r[3].startswith("$argon2id$") for r in found)


def test_errors_are_codes_and_exit_1(env: dict[str, str]) -> None:
    runner.invoke(app, ["operator", "add", "ann", "--password-stdin"], input="pw\n", env=env)
    again = runner.invoke(app, ["operator", "add", "ann", "--password-stdin"], input="pw\n", env=env)
    assert again.exit_code == 1 and "FRY-600005" in again.output
    unknown = runner.invoke(app, ["operator", "disable", "nobody"], env=env)
    assert unknown.exit_code == 1 and "FRY-600006" in unknown.output


def test_password_from_the_environment_or_a_pipe(env: dict[str, str], database_url: str) -> None:
    from ferry.auth import Authenticator
    from ferry.config import Settings
    from ferry.staging import StagingDatabase

    by_env = runner.invoke(app, ["operator", "add", "env-op"], env={**env, "FERRY_OPERATOR_PASSWORD": "from-env"})
    assert by_env.exit_code == 0, by_env.output
    piped = runner.invoke(app, ["operator", "add", "pipe-op"], input="from-pipe\n", env=env)
    assert piped.exit_code == 0, piped.output
    settings = Settings.from_env(database_url=database_url)
    with StagingDatabase.open(settings) as db:
        auth = Authenticator(db.pool, settings)
        assert auth.logon("env-op", "from-env").operator.login == "env-op"
        assert auth.logon("pipe-op", "from-pipe").operator.login == "pipe-op"
