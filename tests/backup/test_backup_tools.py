"""`ferry backup`'s locks and tools: one connection whatever the number of schemas, no password on a command line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg

from ferry.backup import pgtools
from ferry.backup.take import every_sync_paused
from ferry.staging import StagingDatabase
from ferry.sync.batches import SCHEMA_LOCK_CLASS


def test_every_schema_lock_is_taken_on_one_connection_outside_the_pool(staging_db: StagingDatabase) -> None:
    schemas = [f"dem:table{n}" for n in range(40)]  # far more than the pool holds
    with every_sync_paused(staging_db, schemas) as conn:
        row = conn.execute("SELECT count(*) FROM ferry.warehouse_identity").fetchone()
        assert row is not None
        with psycopg.connect(staging_db.url, autocommit=True) as other:
            busy = other.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                 (SCHEMA_LOCK_CLASS, schemas[-1])).fetchone()
            assert busy == (False,)  # a sync of that schema waits
    with psycopg.connect(staging_db.url, autocommit=True) as other:
        free = other.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (SCHEMA_LOCK_CLASS, schemas[-1]))
        assert free.fetchone() == (True,)


def test_the_password_goes_in_the_environment_not_on_the_command_line(monkeypatch: Any, tmp_path: Path) -> None:
    seen: list[tuple[list[str], dict[str, str] | None]] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        seen.append((list(args), kwargs.get("env")))
        return subprocess.CompletedProcess(args, 0, b"" if "input" in kwargs or "text" not in kwargs else "", b"")

    monkeypatch.setattr(pgtools.subprocess, "run", run)
    monkeypatch.setattr(pgtools, "_binary", lambda name: name)
    url = "postgresql://ferry:s3cr%40t@db.example:5433/staging?sslmode=require"
    pgtools.dump(url, tmp_path / "x.dump", "staging")
    pgtools.load(url, tmp_path / "x.dump", "staging")
    assert [args[0] for args, _ in seen] == ["pg_dump", "pg_restore", "psql"]
    for args, _env in seen:
        assert not any("s3cr" in arg for arg in args)
    for args, env in (seen[0], seen[2]):
        assert env is not None and env["PGPASSWORD"] == "s3cr@t"
        target = args[args.index("--dbname") + 1]
        assert psycopg.conninfo.conninfo_to_dict(target) == {"user": "ferry", "host": "db.example", "port": "5433",
                                                             "dbname": "staging", "sslmode": "require"}
