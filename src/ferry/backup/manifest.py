"""The backup folder's `manifest.json`: what it holds, in which format, and which warehouse staging fed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STAGING_DUMP = "staging.dump"  # pg_dump custom format
WAREHOUSE_DUMP = "warehouse.dump"  # pg_dump custom format of a PostgreSQL warehouse
WAREHOUSE_FILE = "warehouse.duckdb"  # a checkpointed copy of a DuckDB warehouse


@dataclass(frozen=True)
class Manifest:
    """Written last: a folder without it is an unfinished backup."""

    format_version: int
    ferry_version: str
    created_at: str
    warehouse_engine: str  # duckdb | postgresql
    warehouse_file: str  # WAREHOUSE_FILE or WAREHOUSE_DUMP
    # The row of ferry.warehouse_identity at backup time (None before the first sync), and the warehouse's own id.
    claimed_identity: dict[str, str] | None
    warehouse_identity: str
    schemas: list[str]

    def write(self, folder: Path) -> None:
        """Save as `manifest.json` in `folder`."""
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of a finished backup; FRY-310003 when the folder is not one ferry can restore."""
        path = folder / MANIFEST
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FerryError(errors.BACKUP_UNREADABLE, f"{folder} is not a ferry backup, or an unfinished one: "
                             f"{MANIFEST} is missing") from None
        except ValueError as exc:
            raise FerryError(errors.BACKUP_UNREADABLE, f"{path} is not valid JSON ({exc})") from None
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise FerryError(errors.BACKUP_UNREADABLE, f"{folder} is a backup in format {version}; this ferry "
                             f"restores format {FORMAT_VERSION}: use the ferry version that took it "
                             f"({data.get('ferry_version', 'unknown')}) or a later one")
        try:
            return cls(**data)
        except TypeError as exc:
            raise FerryError(errors.BACKUP_UNREADABLE, f"{path} lacks fields ({exc})") from None
