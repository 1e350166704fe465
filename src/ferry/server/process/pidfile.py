"""One `ferry serve` per data folder: a lock file holding the server's PID, taken before any database is opened.

The lock is an advisory `flock` on `<data_dir>/ferry.pid`; the kernel drops it when the process dies, so a file
left behind by a killed server is stale by construction and simply taken over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from ferry import errors
from ferry.errors import FerryError

PID_FILE = "ferry.pid"


class PidFile:
    """Held while the server runs; `release()` (or process exit) frees it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PID_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock and write this PID; FRY-300005 naming the running server's PID when another holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="ascii")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            stop = f"; stop it with `kill {pid}`" if pid.isdigit() else ""
            raise FerryError(errors.ALREADY_RUNNING, f"ferry is already running here (PID {pid}){stop}",
                             detail=f"data folder {self.path.parent} (lock file {self.path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Remove the file and drop the lock (removing first: a waiting server never sees an unlocked stale PID)."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._file.close()
        self._file = None
