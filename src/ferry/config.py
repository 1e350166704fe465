"""Settings: command-line flags over `FERRY_*` variables over embedded defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError


def _file_values(known: dict[str, Any]) -> dict[str, Any]:
    path = Path(os.environ.get("FERRY_CONFIG") or "ferry.toml")
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FerryError(errors.CONFIG_ERROR, f"{path}: {exc}") from None
    table = data.get("ferry", data)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise FerryError(errors.CONFIG_ERROR, f"{path}: unknown settings {', '.join(unknown)}")
    return dict(table)


def _convert(name: str, type_: Any, value: Any) -> Any:
    """Text from the environment or a file → the field's type, with a clear error."""
    kind = str(type_)
    try:
        if "Path" in kind:
            return Path(value)
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if kind == "int":
            return int(float(value))
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise FerryError(errors.CONFIG_ERROR, f"setting {name}={value!r} is not a valid {kind}") from None
    return value


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
    # Staging outages: how long a call waits for a pooled connection, and the connect / reconnect bound of one.
    pool_timeout: float = 3.0
    pool_connect_timeout: float = 2.0
    # Warehouse faults: connect, per-statement (sync) and read bounds; reads run on their own bounded threads.
    warehouse_connect_timeout: float = 5.0
    warehouse_statement_timeout: float = 900.0
    warehouse_read_timeout: float = 30.0
    warehouse_read_threads: int = 4
    warehouse_tcp_timeout: float = 30.0
    warehouse_lock_timeout: float = 1.0
    # `ferry serve --role all|ingest|sync`; how long /healthz and /metrics wait for a part's check.
    role: str = "all"
    health_timeout: float = 1.0
    log_json: bool = False

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then `ferry.toml` (or FERRY_CONFIG), then `FERRY_*` variables, then non-None overrides."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise FerryError(errors.CONFIG_ERROR, f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        values.update(_file_values(known))
        for name in known:
            text = os.environ.get(f"FERRY_{name.upper()}")
            if text:
                values[name] = text
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**{name: _convert(name, known[name].type, value) for name, value in values.items()})

    @property
    def effective_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to a DuckDB file in the data folder."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb:///{(self.data_dir / 'warehouse.duckdb').resolve()}"
