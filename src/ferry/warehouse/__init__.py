"""Warehouse adapters behind one small interface; `open_warehouse(url)` picks the engine from the URL."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from ferry import errors
from ferry.errors import FerryError
from ferry.warehouse.base import BatchOutcome, Identity, Timeouts, Warehouse
from ferry.warehouse.tables import table_name

# DuckDB settings a `duckdb:///file.duckdb?memory_limit=512MB&threads=2` URL may carry. `checkpoint_threshold`: the
# WAL size at which a commit also checkpoints (DuckDB's 16 MB default puts that work inside some sync runs' commits).
DUCKDB_OPTIONS = frozenset({"memory_limit", "threads", "temp_directory", "max_temp_directory_size",
                            "checkpoint_threshold"})


def open_warehouse(url: str, timeouts: Timeouts | None = None) -> Warehouse:
    """`duckdb:///path/file.duckdb` (or `duckdb:///:memory:`), `postgresql://…`, `snowflake://…`, bounded by
    `timeouts` (connect, statement, read; defaults when None)."""
    timeouts = timeouts or Timeouts()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "duckdb":
        from ferry.warehouse.duckdb_wh import DuckDBWarehouse

        path, _, query = url.split("://", 1)[1].partition("?")
        path = path[1:] if path.startswith("/") and path[1:] == ":memory:" else path
        config: dict[str, str | bool | int | float | list[str]] = dict(parse_qsl(query))
        unknown = sorted(set(config) - DUCKDB_OPTIONS)
        if unknown:
            raise FerryError(errors.WAREHOUSE_URL, f"unknown DuckDB warehouse option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(DUCKDB_OPTIONS))}")
        # Another process holding the file is a lock DuckDB does not wait on: retry up to the lock timeout.
        deadline = time.monotonic() + timeouts.lock
        while True:
            try:
                return DuckDBWarehouse(url, path or ":memory:", config)
            except Exception as exc:
                text = str(exc).strip()
                if "lock" in text.lower() and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                # Typically another process holds the file: DuckDB allows one writer process per file.
                raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"cannot open the DuckDB warehouse {path}: "
                                 f"{text.splitlines()[0] if text else repr(exc)}") from None
    if scheme in ("postgresql", "postgres"):
        from ferry.warehouse.postgres_wh import PostgresWarehouse

        try:
            return PostgresWarehouse(url, timeouts)
        except FerryError:
            raise
        except Exception as exc:
            raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"cannot connect to the PostgreSQL warehouse: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}") from None
    if scheme == "snowflake":
        from ferry.warehouse.snowflake_wh import SnowflakeWarehouse

        return SnowflakeWarehouse(url, timeouts=timeouts)
    raise FerryError(errors.WAREHOUSE_URL, f"warehouse URL {url!r} is not supported; use duckdb:///path/file.duckdb "
                     "or postgresql://user@host/database")


__all__ = ["BatchOutcome", "Identity", "Timeouts", "Warehouse", "open_warehouse", "table_name"]
