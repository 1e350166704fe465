"""Continuous sync (`FERRY_SYNC_INTERVAL=0`): a run of a schema starts as soon as rows of it are committed.

Staging tables NOTIFY `ferry_staged` with their schema id at commit (`ferry.staging.notify`). A listener thread
holds one LISTEN connection and hands each notification to a `Coalescer`, which keeps at most one run queued or
running per schema plus one pending behind it: a burst of calls costs a few runs, never one per call. A running
run takes what is pending itself when it reaches its horizon and goes on (proving the next horizon and reading the
next batch while it applies the current one), so under steady traffic one run follows the log. Runs go
through the scheduler's single worker, so they never overlap in this process (other processes are kept out by
the per-schema advisory lock). Nothing is stranded if a notification is lost: the listener reconnects with
backoff and starts a catch-up run of every schema on each (re)connection, and a fallback poll runs every schema
every `poll_seconds`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

import psycopg
from psycopg import sql

from ferry.staging.notify import CHANNEL

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0  # fallback: every schema runs at least this often, notification or not
# A run that reached its horizon goes on while rows keep coming (`Coalescer.take_pending`), at most this long.
FOLLOW_SECONDS = 30.0
# A silently dead TCP peer is noticed within ~11 s (idle 5 s, then 3 probes 2 s apart); sockets ignore these.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


class Coalescer:
    """One run at a time per schema, and at most one more pending behind it.

    `submit(schema_id, started)` queues a run that calls `started()` when it begins and returns its future.
    A request for a schema whose run is queued but not started is dropped (that run will see the rows: the
    notification came after their commit); one for a running schema marks it pending, run again when it ends.
    """

    def __init__(self, submit: Callable[[str, Callable[[], None]], Future[object]]) -> None:
        self._submit = submit
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._pending: set[str] = set()
        self.requests = 0
        self.runs = 0

    def request(self, schema_id: str) -> None:
        """Ask for a run of `schema_id` soon."""
        with self._lock:
            self.requests += 1
            if schema_id in self._queued:
                return
            if schema_id in self._running:
                self._pending.add(schema_id)
                return
            self._queued.add(schema_id)
            self.runs += 1
        try:
            future = self._submit(schema_id, lambda: self._started(schema_id))
        except RuntimeError:  # the worker was shut down (stopping)
            with self._lock:
                self._queued.discard(schema_id)
            return
        future.add_done_callback(lambda _f: self._ended(schema_id))

    def take_pending(self, schema_id: str) -> bool:
        """For the running run of `schema_id`: True (and no run pending any more) when rows were notified since it
        started or last asked, so it goes on past its horizon instead of ending and being run again."""
        with self._lock:
            if schema_id not in self._running or schema_id not in self._pending:
                return False
            self._pending.discard(schema_id)
            return True

    def busy(self) -> bool:
        """True while some run is queued, running or pending."""
        with self._lock:
            return bool(self._queued or self._running or self._pending)

    def _started(self, schema_id: str) -> None:
        with self._lock:
            self._queued.discard(schema_id)
            self._running.add(schema_id)

    def _ended(self, schema_id: str) -> None:
        with self._lock:
            self._queued.discard(schema_id)
            self._running.discard(schema_id)
            again = schema_id in self._pending
            self._pending.discard(schema_id)
        if again:
            self.request(schema_id)


class Listener:
    """A thread holding `LISTEN ferry_staged` on its own connection; reconnects (with backoff) when it breaks."""

    def __init__(self, conninfo: str, on_notify: Callable[[str], None], on_connect: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.on_notify = on_notify
        self.on_connect = on_connect
        self.backend_pid: int | None = None  # of the current LISTEN connection (tests break it)
        self.connections = 0
        self.notifications = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listening in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ferry-listen", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop listening (within about half a second)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        backoff = 0.25
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, **KEEPALIVE) as conn:  # type: ignore[arg-type]
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.backend_pid = conn.info.backend_pid
                    self.connections += 1
                    if self.connections > 1:
                        log.info("continuous sync: listening again on the staging database")
                    backoff = 0.25
                    # Rows committed while nobody listened (start, or a broken connection) get their run now.
                    self.on_connect()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.notifications += 1
                            self.on_notify(note.payload)
            except psycopg.Error as exc:
                self.backend_pid = None
                log.warning("continuous sync: the LISTEN connection to staging failed (%s); retrying in %.1f s, "
                            "the fallback poll keeps syncing meanwhile", str(exc).strip() or type(exc).__name__,
                            backoff)
                self._stop.wait(backoff)
                backoff = min(5.0, backoff * 2)
            except Exception:
                log.exception("continuous sync: listener failed")
                self._stop.wait(backoff)
                backoff = min(5.0, backoff * 2)
