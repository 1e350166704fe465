"""Versioned SQL files applied once, in order, under an advisory lock."""

from __future__ import annotations

import re
from importlib import resources

import psycopg

_LOCK_ID = 0x46455252  # "FERR"
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("ferry.staging") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied. Safe to run from several processes at once."""
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS ferry")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ferry.migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM ferry.migrations")}
        for version, name, sql in _migrations():
            if version in done:
                continue
            conn.execute(sql.encode("utf-8"))
            conn.execute("INSERT INTO ferry.migrations (version, name) VALUES (%s, %s)", (version, name))
            applied.append(name)
    return applied
