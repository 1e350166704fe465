"""Where a batch's time goes, for `bench/run --only lag`: with `FERRY_SYNC_TRACE=FILE` each proven horizon and each
batch (its stages' wall-clock times) is appended to FILE as a JSON line; without it every call here is a no-op."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

_PATH = os.environ.get("FERRY_SYNC_TRACE", "")
_lock = threading.Lock()
_open: dict[int, dict[str, Any]] = {}  # batch first_seq → its stages so far


def proven(upto: int) -> None:
    """A horizon was proven: rows up to `upto` can now be read."""
    if _PATH:
        _write({"proven": upto, "t": time.time()})


def read(first_seq: int, last_seq: int, rows: int, started: float) -> None:
    """A read of the log's range `first_seq..last_seq` that began at `started` ended now."""
    if _PATH:
        _write({"read": first_seq, "last": last_seq, "rows": rows, "start": started, "t": time.time()})


def mark(first_seq: int, stage: str, last_seq: int | None = None, rows: int | None = None) -> None:
    """The batch starting at `first_seq` reached `stage` now (`recorded` ends it)."""
    if not _PATH:
        return
    now = time.time()
    with _lock:
        entry = _open.setdefault(first_seq, {"first": first_seq})
        entry[stage] = now
        if last_seq is not None:
            entry["last"], entry["rows"] = last_seq, rows
        done = _open.pop(first_seq) if stage == "recorded" else None
    if done is not None:
        _write(done)


def hook(first_seq: int, inner: Callable[[str], None]) -> Callable[[str], None]:
    """The warehouse's apply hook, marking its points (`after_load`, `after_commit`) for the batch."""
    if not _PATH:
        return inner

    def marked(point: str) -> None:
        mark(first_seq, point)
        inner(point)

    return marked


def _write(entry: dict[str, Any]) -> None:
    with _lock, open(_PATH, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
