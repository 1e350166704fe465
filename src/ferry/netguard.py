"""A socket-level bound on one psycopg exchange: a frozen server (SIGSTOP) still ACKs TCP, so neither the server's
statement_timeout nor TCP keepalives end a wait on it; shutting the socket down does."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def watchdog(conn: Any, seconds: float) -> Iterator[threading.Event]:
    """Shut `conn`'s socket down if the block is still running after `seconds` (0: never); the event says it fired."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        with contextlib.suppress(OSError, ValueError):
            sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()

    timer = threading.Timer(seconds, fire) if seconds > 0 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield fired
    finally:
        if timer is not None:
            timer.cancel()
