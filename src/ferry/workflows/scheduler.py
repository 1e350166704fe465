"""The scheduler: every staged schema synced every `sync_interval` seconds (or continuously when it is 0, see
`ferry.workflows.continuous`), the purge, runs on demand, and the workflow scripts operators added
(`ferry.workflows.runner`, on their own schedules and threads, when a runner is attached)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.sync.workflow import RunResult, purge, run_once
from ferry.warehouse.base import Warehouse
from ferry.workflows.continuous import FOLLOW_SECONDS, POLL_SECONDS, Coalescer, Listener
from ferry.workflows.requests import take_requests
from ferry.workflows.runner import ScriptRunner

log = logging.getLogger(__name__)

_T = TypeVar("_T")

MIN_INTERVAL = 0.1  # seconds; sub-second intervals are allowed, 0 means continuous
CONTINUOUS_PURGE_SECONDS = 60.0  # the purge's period in continuous mode


class Scheduler:
    """Runs syncs on one worker thread (runs of this process never overlap; other processes are kept out by the
    per-schema PostgreSQL lock). `start()` adds the periodic loop; `trigger()` works with or without it."""

    def __init__(self, db: StagingDatabase, warehouse: Warehouse, settings: Settings,
                 scripts: ScriptRunner | None = None) -> None:
        self.db = db
        self.scripts = scripts
        self.warehouse = warehouse
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-sync")
        self._futures: dict[uuid.UUID, Future[RunResult]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Continuous mode (sync_interval 0): runs coalesced per schema, woken by the staging tables' NOTIFY.
        self.poll_seconds = POLL_SECONDS
        self.coalescer: Coalescer | None = None
        self.listener: Listener | None = None
        self._next_pass: dt.datetime | None = None  # wall-clock time of the periodic loop's next pass
        self._waiting = 0  # tasks queued on the worker and not started: a continuous run stops following for them

    @property
    def continuous(self) -> bool:
        """True when runs start as soon as rows are staged (`FERRY_SYNC_INTERVAL=0`)."""
        return float(self.settings.sync_interval) <= 0

    def next_run(self, schema_id: str | None = None) -> dt.datetime | None:
        """When the periodic loop next syncs every schema: None in continuous mode (a run starts as rows are
        staged) or before the loop started; never in the past (a pass that is due is now)."""
        if self.continuous or self._next_pass is None:
            return None
        return max(self._next_pass, dt.datetime.now(dt.UTC))

    def start(self) -> None:
        """Start the periodic loop (first run right away), and in continuous mode the listener."""
        if self._thread is not None:
            return
        self._stop.clear()
        if self.continuous:
            self.coalescer = Coalescer(self._submit)
            self.listener = Listener(self.db.url, self.coalescer.request, self._request_all)
            self.listener.start()
        self._thread = threading.Thread(target=self._loop, name="ferry-scheduler", daemon=True)
        self._thread.start()
        if self.scripts is not None:
            self.scripts.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the loop, let the current run finish, release the worker."""
        self._stop.set()
        if self.scripts is not None:
            self.scripts.stop()
        if self.listener is not None:
            self.listener.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    def trigger(self, schema_id: str | None = None, *, record_idle: bool = True) -> list[uuid.UUID]:
        """Queue a sync of one schema (or of every staged schema) now; returns the run ids. Runs asked for are
        recorded even when idle; the schedule's own (`record_idle` false) only when they read rows or failed."""
        self.db.reload_schemas()
        if schema_id is None:
            schema_ids = [schema.id for schema in self.db.registry.staged()]
        else:
            schema = self.db.registry.resolve_staged(schema_id)
            schema_ids = [schema.id]
        run_ids = []
        for sid in schema_ids:
            run_id = uuid.uuid4()
            future = self._queue(self._run, sid, run_id, record_idle)
            with self._lock:
                self._futures[run_id] = future
            run_ids.append(run_id)
        return run_ids

    def wait(self, run_ids: list[uuid.UUID], timeout: float | None = None) -> list[RunResult]:
        """Wait for runs started by `trigger` and return their results (in the same order)."""
        with self._lock:
            futures = [self._futures[run_id] for run_id in run_ids]
        wait_futures(futures, timeout=timeout)
        results = [future.result(timeout=0) for future in futures]
        with self._lock:
            for run_id in run_ids:
                self._futures.pop(run_id, None)
        return results

    def take_requests(self) -> None:
        """Start the runs of the sync requests pending in staging now (the loop also takes them every second)."""
        self._take_requests()

    def _take_requests(self) -> None:
        try:
            take_requests(self.db.pool, self.trigger)
        except RuntimeError:
            pass  # the executor was shut down by stop()
        except Exception:
            log.exception("could not take sync requests")

    def _queue(self, action: Callable[..., _T], *args: Any) -> Future[_T]:
        """Submit a task to the single worker, counted as waiting until it starts."""

        def go() -> _T:
            with self._lock:
                self._waiting -= 1
            return action(*args)

        with self._lock:
            self._waiting += 1
        try:
            return self._executor.submit(go)
        except BaseException:
            with self._lock:
                self._waiting -= 1
            raise

    def _run(self, schema_id: str, run_id: uuid.UUID, record_idle: bool = True,
             follow: Callable[[], bool] | None = None) -> RunResult:
        return run_once(self.db, self.warehouse, schema_id, self.settings, run_id=run_id, record_idle=record_idle,
                        follow=follow)

    def _submit(self, schema_id: str, started: Callable[[], None]) -> Future[object]:
        """Queue a coalesced run (continuous mode); `started` is called as it begins. The run goes on past its
        horizon while rows of its schema keep being committed, nothing else waits for the worker, and for at most
        FOLLOW_SECONDS (so the run history shows progress)."""

        def go() -> RunResult:
            started()
            until = time.monotonic() + FOLLOW_SECONDS

            def follow() -> bool:
                coalescer = self.coalescer
                with self._lock:
                    others = self._waiting > 0
                return (not others and not self._stop.is_set() and time.monotonic() < until
                        and coalescer is not None and coalescer.take_pending(schema_id))

            return self._run(schema_id, uuid.uuid4(), record_idle=False, follow=follow)

        return self._queue(go)

    def _request_all(self) -> None:
        """A coalesced run of every staged schema (on each LISTEN connection, and the fallback poll)."""
        if self.coalescer is None:
            return
        try:
            self.db.reload_schemas()
        except Exception:
            log.exception("could not reload schemas")
        for schema in self.db.registry.staged():
            self.coalescer.request(schema.id)

    def _wait_taking_requests(self, run_ids: list[uuid.UUID]) -> None:
        """Wait for scheduled runs, taking relayed `ferry sync` requests meanwhile (their callers wait for them)."""
        with self._lock:
            futures = [self._futures[run_id] for run_id in run_ids]
        while wait_futures(futures, timeout=0.5).not_done and not self._stop.is_set():
            self._take_requests()
        self.wait(run_ids)

    def _loop(self) -> None:
        if self.continuous:
            self._continuous_loop()
            return
        interval = max(MIN_INTERVAL, float(self.settings.sync_interval))
        next_due = time.monotonic()
        while not self._stop.is_set():
            self._take_requests()
            if time.monotonic() >= next_due:
                next_due = time.monotonic() + interval
                self._next_pass = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=interval)
                try:
                    run_ids = self.trigger(None, record_idle=False)
                    self._queue(purge, self.db, self.settings)
                    self._wait_taking_requests(run_ids)
                except FerryError as exc:
                    log.warning("scheduled sync: %s", exc.text)
                except RuntimeError:
                    return  # the executor was shut down by stop()
                except Exception:
                    log.exception("scheduled sync failed")
            self._stop.wait(max(0.05, min(1.0, next_due - time.monotonic())))

    def _continuous_loop(self) -> None:
        """Continuous mode: relayed requests, the fallback poll of every schema, and the purge now and then."""
        next_poll = time.monotonic() + self.poll_seconds
        next_purge = time.monotonic()
        while not self._stop.is_set():
            self._take_requests()
            now = time.monotonic()
            try:
                if now >= next_poll:
                    next_poll = now + self.poll_seconds
                    self._request_all()
                if now >= next_purge:
                    next_purge = now + CONTINUOUS_PURGE_SECONDS
                    self._queue(purge, self.db, self.settings)
            except RuntimeError:
                return  # the executor was shut down by stop()
            except Exception:
                log.exception("continuous sync: poll failed")
            self._stop.wait(max(0.05, min(0.5, next_poll - time.monotonic())))
