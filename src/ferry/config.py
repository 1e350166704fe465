"""Settings: command-line flags over `FERRY_*` variables over embedded defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return float(text)
    except ValueError:
        raise FerryError(errors.CONFIG_ERROR, f"{name}={text!r} is not a number") from None


def _env_int(name: str, default: int) -> int:
    return int(_env_float(name, default))


@dataclass(frozen=True)
class Settings:
    """Everything a ferry process needs to know; see README for each variable."""

    data_dir: Path = Path("./ferry-data")
    database_url: str | None = None
    warehouse_url: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    # Sync workflow.
    sync_interval: float = 3600.0
    batch_rows: int = 50_000
    batch_bytes: int = 64 * 1024 * 1024
    retention_days: float = 7.0
    # Sessions and limits.
    session_ttl: float = 86_400.0
    rate_limit: float = 0.0
    max_body_bytes: int = 64 * 1024 * 1024
    max_records_per_call: int = 100_000
    pool_size: int = 10
    log_json: bool = False

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Read `FERRY_*` variables, then apply non-None overrides (command-line flags)."""
        base = cls(
            data_dir=Path(os.environ.get("FERRY_DATA_DIR") or "./ferry-data"),
            database_url=os.environ.get("FERRY_DATABASE_URL") or None,
            warehouse_url=os.environ.get("FERRY_WAREHOUSE_URL") or None,
            admin_password=os.environ.get("FERRY_ADMIN_PASSWORD") or None,
            sync_interval=_env_float("FERRY_SYNC_INTERVAL", 3600.0),
            batch_rows=_env_int("FERRY_BATCH_ROWS", 50_000),
            batch_bytes=_env_int("FERRY_BATCH_BYTES", 64 * 1024 * 1024),
            retention_days=_env_float("FERRY_RETENTION_DAYS", 7.0),
            session_ttl=_env_float("FERRY_SESSION_TTL", 86_400.0),
            rate_limit=_env_float("FERRY_RATE_LIMIT", 0.0),
            max_body_bytes=_env_int("FERRY_MAX_BODY_BYTES", 64 * 1024 * 1024),
            max_records_per_call=_env_int("FERRY_MAX_RECORDS_PER_CALL", 100_000),
            pool_size=_env_int("FERRY_POOL_SIZE", 10),
            log_json=os.environ.get("FERRY_LOG_JSON", "").lower() in ("1", "true", "yes"),
        )
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise FerryError(errors.CONFIG_ERROR, f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(base, **{name: value for name, value in overrides.items() if value is not None})

    @property
    def effective_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to a DuckDB file in the data folder."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb:///{(self.data_dir / 'warehouse.duckdb').resolve()}"
