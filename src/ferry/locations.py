"""Which data folder and databases a process uses, said out loud when it is about to create them."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from ferry.config import Settings

_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def duckdb_file(settings: Settings) -> Path | None:
    """The DuckDB warehouse file, or None for another engine or an in-memory warehouse."""
    url = settings.effective_warehouse_url
    if not url.lower().startswith("duckdb://"):
        return None
    path = url.split("://", 1)[1].partition("?")[0]
    if not path or path.endswith(":memory:"):
        return None
    # `duckdb:///` + an absolute path (a common spelling) gives `//abs/…`: the same file as `/abs/…`.
    return Path("/" + path.lstrip("/") if path.startswith("//") else path).expanduser()


def embedded_pgdata(settings: Settings) -> Path | None:
    """The embedded PostgreSQL's folder, or None when staging is a configured server."""
    return None if settings.database_url else settings.data_dir.resolve() / "postgres"


def describe(settings: Settings) -> str:
    """One line: the data folder (and where that choice came from), the staging database and the warehouse."""
    pgdata = embedded_pgdata(settings)
    staging = f"embedded PostgreSQL in {pgdata}" if pgdata else f"PostgreSQL {_hide(settings.database_url or '')}"
    duck = duckdb_file(settings)
    warehouse = f"DuckDB {duck}" if duck else _hide(settings.effective_warehouse_url).partition("?")[0]
    return (f"data folder {settings.data_dir} ({settings.data_dir_origin}); staging: {staging}; "
            f"warehouse: {warehouse}")


def creates_something(settings: Settings) -> bool:
    """True when opening staging creates the embedded PostgreSQL, or the data folder a DuckDB warehouse goes in."""
    pgdata = embedded_pgdata(settings)
    if pgdata is not None:
        return not (pgdata / "PG_VERSION").exists()
    duck = duckdb_file(settings)
    return duck is not None and not duck.parent.exists()


def uses_data_dir(settings: Settings) -> bool:
    """True when the embedded PostgreSQL or the DuckDB warehouse file lives in the data folder."""
    duck = duckdb_file(settings)
    return embedded_pgdata(settings) is not None or (
        duck is not None and duck.resolve().is_relative_to(settings.data_dir.resolve()))


def announce(settings: Settings, stream: TextIO | None = None) -> None:
    """Print the `describe` line on stderr when something is about to be created, or when the data folder in use
    is the per-user default rather than one this project names, so data never lands silently in an unexpected
    folder."""
    if creates_something(settings):
        print(f"ferry: creating {describe(settings)}", file=stream or sys.stderr, flush=True)
    elif settings.data_dir_origin == "per-user default" and uses_data_dir(settings):
        print(f"ferry: using {describe(settings)}: no ferry.toml here or above, no FERRY_DATA_DIR or --data-dir",
              file=stream or sys.stderr, flush=True)


def _hide(url: str) -> str:
    return _PASSWORD.sub(r"\1***@", url)
