"""Where a `ferry` command finds the running server that holds the DuckDB warehouse file: its owner socket's link,
published as `<data_dir>/run/warehouse-owner.json` (mode 0600 in a folder of mode 0700, like the socket itself)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ferry.warehouse.remote import OwnerLink

LINK_FILE = "warehouse-owner.json"


def _path(data_dir: Path) -> Path:
    return data_dir.resolve() / "run" / LINK_FILE


def publish(data_dir: Path, link: OwnerLink) -> Path:
    """Write the link for commands run by this user on this data folder."""
    path = _path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"path": link.path, "secret": link.secret, "pid": link.pid}, handle)
    os.replace(temporary, path)
    return path


def withdraw(data_dir: Path) -> None:
    """Remove the link (the server stops)."""
    with contextlib.suppress(OSError):
        _path(data_dir).unlink()


def find(data_dir: Path) -> OwnerLink | None:
    """The link of a live server on this data folder, or None (no file, or its process is gone)."""
    try:
        data = json.loads(_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's: the socket will refuse us and say so
    return OwnerLink(str(data["path"]), str(data["secret"]), pid if isinstance(pid, int) else None)
