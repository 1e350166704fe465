"""Settings: command-line flags over `FERRY_*` variables over embedded defaults."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError

CONFIG_NAME = "ferry.toml"


# Folders whose ferry.toml is trusted whatever its owner and mode (like git's safe.directory), separated by the
# platform's path separator; `*` trusts every folder.
SAFE_DIRECTORIES_VARIABLE = "FERRY_SAFE_DIRECTORIES"


def find_config(start: Path | None = None) -> Path | None:
    """FERRY_CONFIG, else the nearest `ferry.toml` in the current folder or one above it (the way git finds .git).

    A found file chooses the data folder and the warehouse, so one another user planted in a parent folder (or one
    anybody may rewrite) is refused (FRY-300006) unless its folder is listed in FERRY_SAFE_DIRECTORIES. A file
    named by FERRY_CONFIG is the user's explicit choice and is read as it is.
    """
    named = os.environ.get("FERRY_CONFIG")
    if named:
        return Path(named).absolute()
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            check_trusted(candidate)
            return candidate
    return None


def check_trusted(path: Path) -> None:
    """Refuse a found `ferry.toml` owned by another user or writable by every user, unless its folder is safe."""
    info = path.stat()
    foreign = info.st_uid != os.getuid()
    world_writable = bool(info.st_mode & stat.S_IWOTH)
    if not (foreign or world_writable) or _listed_safe(path.parent):
        return
    why = f"owned by uid {info.st_uid}, not by you (uid {os.getuid()})" if foreign else "writable by every user"
    raise FerryError(errors.CONFIG_UNTRUSTED, f"{path} is {why}: it would choose ferry's data folder and warehouse, "
                     f"so it is not read. If you trust it, add its folder to {SAFE_DIRECTORIES_VARIABLE} "
                     f"(export {SAFE_DIRECTORIES_VARIABLE}={path.parent}), or name it with FERRY_CONFIG; otherwise "
                     "run ferry from another folder or remove the file")


def _listed_safe(folder: Path) -> bool:
    listed = [item for item in os.environ.get(SAFE_DIRECTORIES_VARIABLE, "").split(os.pathsep) if item]
    if "*" in listed:
        return True
    resolved = folder.resolve()
    return any(Path(item).expanduser().resolve() == resolved for item in listed)


def user_data_dir() -> Path:
    """The per-user data folder: `$XDG_DATA_HOME/ferry`, else `~/.local/share/ferry`."""
    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share") / "ferry"


def _relative_to(folder: Path, name: str, value: Any) -> Any:
    """A relative path in the config file means relative to that file's folder, not to wherever ferry runs."""
    if name == "data_dir" and isinstance(value, str) and not Path(value).expanduser().is_absolute():
        return str(folder / value)
    if name == "warehouse_url" and isinstance(value, str) and value.lower().startswith("duckdb://"):
        path = value[len("duckdb://"):]
        if path and not path.startswith(("/", ":memory:", "~")):
            return f"duckdb://{folder / path}"
    return value


def _file_values(known: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    path = find_config()
    if path is None or not path.is_file():
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FerryError(errors.CONFIG_ERROR, f"{path}: {exc}") from None
    table = data.get("ferry", data)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise FerryError(errors.CONFIG_ERROR, f"{path}: unknown settings {', '.join(unknown)}")
    return {name: _relative_to(path.parent, name, value) for name, value in table.items()}, path


def _convert(name: str, type_: Any, value: Any) -> Any:
    """Text from the environment or a file → the field's type, with a clear error."""
    kind = str(type_)
    try:
        if "Path" in kind:
            return Path(value).expanduser().absolute()
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

    # --data-dir / FERRY_DATA_DIR, else the nearest ferry.toml's data_dir, else the per-user folder (from_env).
    data_dir: Path = field(default_factory=user_data_dir)
    # Where data_dir came from (a flag, a variable, a ferry.toml path or the per-user default); set by from_env.
    data_dir_origin: str = field(default="per-user default", compare=False, metadata={"internal": True})
    database_url: str | None = None
    warehouse_url: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    # The address clients reach ferry under (`https://ferry.example.com`), written wherever ferry names itself: the
    # WSDL's soap:address and unsubscribe links. Unset: only a host the server is bound to is taken from a request.
    public_url: str | None = None
    # `ferry serve --workers N`: N processes on one port; `role` all (serve + sync), ingest (serve only) or sync.
    workers: int = 1
    role: str = "all"
    # Sync workflow.
    sync_interval: float = 3600.0
    # Past DuckDB's row group (122,880 rows) a batch's inserts are written straight to the file instead of its WAL
    # and a later checkpoint: 250k-row batches made the 1M-row sync ~25% faster there (bench/README.md).
    batch_rows: int = 250_000
    batch_bytes: int = 64 * 1024 * 1024
    # Workflows (scheduled scripts): the log lines one run keeps, and the JSON size of instance.vars kept between runs.
    workflow_log_lines: int = 1000
    workflow_vars_bytes: int = 64 * 1024
    retention_days: float = 7.0
    # Sessions and limits.
    session_ttl: float = 86_400.0
    rate_limit: float = 0.0
    max_body_bytes: int = 64 * 1024 * 1024
    max_records_per_call: int = 100_000
    pool_size: int = 10
    # Security (docs/security.md): logon throttling, zones, /metrics, and the limits at the door.
    logon_free_attempts: int = 5
    logon_address_free_attempts: int = 20
    logon_base_delay: float = 1.0
    logon_max_delay: float = 900.0
    session_token_only_networks: str = ""
    metrics_token: str | None = field(default=None, repr=False)
    metrics_networks: str = ""
    forwarded_allow_ips: str = ""
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    max_request_line_bytes: int = 8 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 0
    max_connections_per_client: int = 512
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
    # How long /healthz and /metrics wait for a part's check (`role` is above, with `workers`).
    health_timeout: float = 1.0
    log_json: bool = False
    # Workflow scripts: where loadLibrary("ns:name.js") reads ns/name.js (default: the data folder's scripts/).
    scripts_dir: Path | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then `ferry.toml` (or FERRY_CONFIG), then `FERRY_*` variables, then non-None overrides."""
        known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
        unknown = set(overrides) - set(known)
        if unknown:
            raise FerryError(errors.CONFIG_ERROR, f"unknown settings: {', '.join(sorted(unknown))}")
        values, config_file = _file_values(known)
        origin = f"data_dir in {config_file}" if "data_dir" in values else "per-user default"
        for name in known:
            text = os.environ.get(f"FERRY_{name.upper()}")
            if text:
                values[name] = text
        if os.environ.get("FERRY_DATA_DIR"):
            origin = "FERRY_DATA_DIR"
        values.update({name: value for name, value in overrides.items() if value is not None})
        if overrides.get("data_dir") is not None:
            origin = "--data-dir"
        values.setdefault("data_dir", user_data_dir())
        values["data_dir_origin"] = origin
        known["data_dir_origin"] = next(f for f in fields(cls) if f.name == "data_dir_origin")
        return cls(**{name: _convert(name, known[name].type, value) for name, value in values.items()})

    @property
    def effective_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to a DuckDB file in the data folder."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb://{(self.data_dir / 'warehouse.duckdb').resolve()}"
