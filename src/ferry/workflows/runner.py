"""Running workflow scripts: on their schedule (the scheduler's loop) and on demand (CLI, REST, SOAP, console).

A run takes its workflow's lock on a connection of its own (`script_runs.lock`), closes runs a dead process left
`running`, claims the tick it stands for (scheduled runs), records itself `running`, runs the stored script in
the engine's worker process (`ferry.scripts.run_script`, from a thread of this runner) as the workflow's
operator, keeps `instance.vars` for the next run, and records its end. Several workflows run side by side; one
workflow never runs twice at once, whatever server started it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.auth import Authenticator, Operator
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.workflows import definitions, script_runs
from ferry.workflows.definitions import Workflow
from ferry.workflows.script_runs import RunLog, RunRecord

log = logging.getLogger(__name__)

LOOP_SECONDS = 0.5  # how often the loop looks for due ticks and stop requests
PURGE_SECONDS = 3600.0
MAX_PARALLEL = 4  # workflows running at once in one process (each in its own engine process)
BUSY_RETRY_SECONDS = 2.0  # a due workflow running on another server is tried again this much later
KEPT_FUTURES = 256  # ended runs whose record `wait` can still hand back

# `execute(workflow, record, api, on_log, stop)`: run the script and return the engine's result object.
Execute = Callable[[Workflow, RunRecord, Any, Callable[..., None], threading.Event], Any]
ApiFor = Callable[[str | None], Any]


@dataclass
class _Active:
    conn: psycopg.Connection[Any]
    workflow: Workflow
    record: RunRecord
    stop: threading.Event
    listener: Callable[[dict[str, str]], None] | None = None  # told each kept log line as the run logs it


def engine_execute(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None],
                   stop: threading.Event) -> Any:
    """Run the stored script in the sandboxed engine (`ferry.scripts.run_script`)."""
    from ferry.scripts.runner import run_script

    return run_script(workflow.script, filename=f"{workflow.name}.js", api=api,
                      vars={key: str(value) for key, value in record.vars.items()},
                      instance_vars=dict(workflow.instance_vars), time_limit=workflow.time_limit, on_log=on_log,
                      request_id=str(record.id), stop=stop)


def operator_for(pool: ConnectionPool, settings: Settings, login: str | None) -> Operator:
    """The operator a workflow runs as: its `--operator` (refused when unknown or disabled), else the local owner
    with every right, as `ferry js` without --operator."""
    from ferry.scripts.api import local_owner

    if login is None:
        return local_owner()
    found = Authenticator(pool, settings).get_operator(login)
    if found is None:
        raise FerryError(errors.UNKNOWN_OPERATOR, f"the workflow runs as operator {login!r}, which no longer "
                         "exists: add it again or give the workflow another (ferry workflow add --replace)")
    if found.disabled:
        raise FerryError(errors.FORBIDDEN, f"the workflow runs as operator {login!r}, which is disabled")
    return found


class ScriptRunner:
    """The workflow scripts of one process: `start()` runs the schedule's loop; `start_run` / `run` work without."""

    def __init__(self, db: StagingDatabase, settings: Settings, api_for: ApiFor, *,
                 execute: Execute = engine_execute, max_parallel: int = MAX_PARALLEL) -> None:
        self.db = db
        self.settings = settings
        self.api_for = api_for
        self.execute = execute
        self._max_parallel = max_parallel
        self._executor = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="ferry-workflow")
        self._closed = False
        self._active: dict[uuid.UUID, _Active] = {}
        self._futures: dict[uuid.UUID, Future[RunRecord]] = {}
        self._claiming: set[str] = set()
        self._busy_until: dict[str, float] = {}  # running on another server: look again after this (monotonic)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_loop_error: str | None = None

    # -- on demand ------------------------------------------------------------------------------------------------

    def start_run(self, name: str, *, trigger: str = "manual", started_by: str | None = None,
                  run_vars: dict[str, Any] | None = None, wait: bool = False) -> uuid.UUID:
        """Start a run of `name` now in the background; its id. FRY-140006 when it is running already (unless
        `wait`: then once that run ended), FRY-140007 when disabled, FRY-140001 when unknown."""
        active = self._begin(name, trigger=trigger, started_by=started_by, run_vars=run_vars or {}, wait=wait)
        assert active is not None
        self._submit(active)
        return active.record.id

    def run(self, name: str, *, trigger: str = "manual", started_by: str | None = None,
            run_vars: dict[str, Any] | None = None, wait: bool = False,
            on_log: Callable[[dict[str, str]], None] | None = None) -> RunRecord:
        """Run `name` now in this thread and return its record once it ended; `on_log` is told each log line the
        history keeps (`{time, level, message}`) as the script logs it."""
        active = self._begin(name, trigger=trigger, started_by=started_by, run_vars=run_vars or {}, wait=wait)
        assert active is not None
        active.listener = on_log
        with self._lock:
            self._active[active.record.id] = active
        return self._execute(active)

    def wait(self, run_id: uuid.UUID, timeout: float | None = None) -> RunRecord | None:
        """The record of a run this process started, once it ended (None: not ended within `timeout`)."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is None:
            return None
        try:
            record = future.result(timeout)
        except TimeoutError:
            return None
        with self._lock:
            self._futures.pop(run_id, None)
        return record

    async def wait_async(self, run_id: uuid.UUID, timeout: float | None = None) -> RunRecord | None:
        """`wait` for an event loop: the run's future is awaited, no thread is held meanwhile."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is None:
            return None
        try:  # shielded: giving up waiting never cancels a run still queued
            record = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except TimeoutError:
            return None
        except asyncio.CancelledError:
            if not future.cancelled():  # this request was cancelled, not the run
                raise
            return self.wait(run_id, 0)  # `stop()` cancelled it; its record stands in `_futures` now
        with self._lock:
            self._futures.pop(run_id, None)
        return record

    def stop_run(self, name: str) -> int:
        """Ask the running run of `name` to stop, wherever it runs; how many were asked (0: none running)."""
        definitions.get(self.db.pool, name)
        asked = script_runs.request_stop(self.db.pool, name)
        self.check_stops()
        return asked

    def running(self) -> list[uuid.UUID]:
        """Ids of the runs in progress in this process."""
        with self._lock:
            return list(self._active)

    # -- the schedule ---------------------------------------------------------------------------------------------

    def reopen(self) -> None:
        """Take runs again after `stop()` (a server started again)."""
        with self._lock:
            if self._closed:
                self._executor = ThreadPoolExecutor(max_workers=self._max_parallel,
                                                    thread_name_prefix="ferry-workflow")
                self._closed = False

    def start(self) -> None:
        """Start the loop: due ticks, stop requests, and the history's retention."""
        self.reopen()
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ferry-workflows", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the loop, stop the runs in progress (recorded `stopped`) and release the workers."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            for active in self._active.values():
                active.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._closed = True
        self._release_cancelled()

    def _release_cancelled(self) -> None:
        """Runs queued behind others began (connection, lock, `running` row) but never ran: record them `stopped`
        and let `wait` hand their record back."""
        with self._lock:
            left = [self._active[run_id] for run_id, future in self._futures.items()
                    if future.cancelled() and run_id in self._active]
        for active in left:
            record = active.record
            record.state, record.error_code = "stopped", errors.WORKFLOW_STOPPED.code
            record.error = f"{errors.WORKFLOW_STOPPED.code} the server stopped before the run could start"
            self._finish(active)
            done: Future[RunRecord] = Future()
            done.set_result(record)
            with self._lock:
                self._futures[record.id] = done

    def run_due(self) -> int:
        """Start a run of every enabled workflow whose tick has come and that is not running here; how many."""
        started = 0
        now = time.monotonic()
        for name, tick in definitions.due(self.db.pool):
            with self._lock:
                if name in self._claiming or any(a.workflow.name == name for a in self._active.values()) \
                        or self._busy_until.get(name, 0.0) > now:
                    continue
                self._claiming.add(name)
            try:
                self._executor.submit(self._scheduled, name, tick)
                started += 1
            except RuntimeError:  # shut down
                with self._lock:
                    self._claiming.discard(name)
                break
        return started

    def _scheduled(self, name: str, tick: dt.datetime) -> None:
        try:
            active = self._begin(name, trigger="schedule", started_by=None, run_vars={}, wait=False, tick=tick)
            if active is None:
                return
            with self._lock:
                self._active[active.record.id] = active
            self._execute(active)
        except Exception:
            log.exception("workflow %s: the scheduled run could not start", name)
        finally:
            with self._lock:
                self._claiming.discard(name)

    def _loop(self) -> None:
        next_purge = time.monotonic()
        while not self._stop.is_set():
            try:
                self.run_due()
                self.check_stops()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_SECONDS
                    script_runs.purge(self.db.pool, self.settings.retention_days)
                self.last_loop_error = None
            except Exception as exc:  # staging down: try again on the next turn
                if self.last_loop_error is None:
                    log.warning("workflow scheduler: %s", exc)
                self.last_loop_error = str(exc)
            self._stop.wait(LOOP_SECONDS)

    def check_stops(self) -> None:
        """Stop the runs of this process an operator asked to stop (on any server)."""
        with self._lock:
            ids = list(self._active)
        for run_id in script_runs.stop_requested(self.db.pool, ids):
            with self._lock:
                active = self._active.get(run_id)
            if active is not None:
                active.stop.set()

    # -- one run --------------------------------------------------------------------------------------------------

    def _begin(self, name: str, *, trigger: str, started_by: str | None, run_vars: dict[str, Any], wait: bool,
               tick: dt.datetime | None = None) -> _Active | None:
        conn = script_runs.connect(self.db.pool)
        try:
            if not script_runs.lock(conn, name, wait=wait):
                if tick is not None:
                    conn.close()
                    with self._lock:
                        self._busy_until[name] = time.monotonic() + BUSY_RETRY_SECONDS
                    return None  # running on some server: the tick stays due and runs after it
                definitions.get(self.db.pool, name)
                raise FerryError(errors.WORKFLOW_BUSY, f"workflow {name} is running already (one run at a time); "
                                 "wait for it (--wait) or stop it")
            script_runs.close_abandoned_locked(conn, name, "at the next start of its workflow")
            if tick is not None:
                workflow = definitions.claim_tick(conn, name, tick)
                if workflow is None:
                    conn.close()
                    return None  # another server ran this tick, or the workflow was disabled or removed
            else:
                workflow = definitions.get(self.db.pool, name)
                if not workflow.enabled:
                    raise FerryError(errors.WORKFLOW_DISABLED, f"workflow {name} is disabled; enable it first "
                                     f"(ferry workflow enable {name})")
            record = RunRecord(uuid.uuid4(), name, trigger, started_by, workflow.operator_login,
                               workflow.script_version, workflow.script_sha256, dict(run_vars),
                               RunLog(self.settings.workflow_log_lines), scheduled_for=tick)
            record.insert(conn)
        except BaseException:
            conn.close()
            raise
        return _Active(conn, workflow, record, threading.Event())

    def _submit(self, active: _Active) -> None:
        with self._lock:
            self._active[active.record.id] = active
        try:
            future = self._executor.submit(self._execute, active)
        except RuntimeError:
            with self._lock:
                self._active.pop(active.record.id, None)
            active.conn.close()
            raise FerryError(errors.SERVER_STOPPING, "the server is stopping: the workflow was not started") from None
        with self._lock:
            self._futures[active.record.id] = future
            for run_id in [key for key, done in self._futures.items() if done.done()][:-KEPT_FUTURES or None]:
                del self._futures[run_id]

    def _execute(self, active: _Active) -> RunRecord:
        record, workflow, conn = active.record, active.workflow, active.conn
        conn_lock = threading.Lock()

        def on_log(*line: Any) -> None:
            at, level, message = _log_fields(line)
            kept = record.log.add(at, level, message)
            if kept is not None and active.listener is not None:
                try:
                    active.listener(kept)
                except Exception as exc:  # a listener's trouble (a relay's staging write) never fails the run
                    log.debug("workflow %s: log listener failed: %s", workflow.name, exc)

        ended = threading.Event()

        def flush_while_running() -> None:
            # The console and other servers see a running run's log within about a second.
            written = 0
            while not ended.wait(script_runs.FLUSH_SECONDS):
                _check_stop(active, conn, conn_lock)  # a process without the scheduler's loop sees Stop here too
                count = len(record.log.lines) + record.log.dropped
                if count == written:
                    continue
                try:
                    with conn_lock:
                        record.flush_log(conn)
                    written = count
                except psycopg.Error as exc:  # kept in memory and written at the end anyway
                    log.debug("workflow %s: log flush failed: %s", workflow.name, exc)

        flusher = threading.Thread(target=flush_while_running, name="ferry-workflow-log", daemon=True)
        flusher.start()
        try:
            result = self.execute(workflow, record, self.api_for(workflow.operator_login), on_log, active.stop)
            self._take_result(record, result, on_log)
            if active.stop.is_set() and record.state != "succeeded":
                record.state = "stopped"
            instance_vars = getattr(result, "instance_vars", None)
            if instance_vars is not None and record.state in ("succeeded", "failed"):
                with conn_lock:
                    self._save_vars(conn, workflow.name, instance_vars, record)
        except FerryError as exc:
            record.state, record.error_code, record.error = "failed", exc.code.code, exc.text
        except Exception as exc:
            log.exception("workflow %s: run %s failed", workflow.name, record.id)
            record.state, record.error_code = "failed", errors.SERVER_INTERNAL.code
            record.error = f"{errors.SERVER_INTERNAL.code} {type(exc).__name__}: {exc}"
        finally:
            ended.set()
            flusher.join()
            with conn_lock:
                self._finish(active)
        return record

    def _save_vars(self, conn: psycopg.Connection[Any], name: str, instance_vars: Any, record: RunRecord) -> None:
        try:
            definitions.save_vars(conn, name, dict(instance_vars), self.settings.workflow_vars_bytes)
        except FerryError as exc:
            record.state, record.error_code, record.error = "failed", exc.code.code, exc.text
            record.log.add(None, "error", exc.text)

    @staticmethod
    def _take_result(record: RunRecord, result: Any, on_log: Callable[..., None]) -> None:
        outcome = str(getattr(result, "outcome", "failed"))
        record.state = {"succeeded": "succeeded", "timed_out": "timed_out"}.get(outcome, "failed")
        error = getattr(result, "error", None)
        if isinstance(error, FerryError):
            record.error_code, record.error = error.code.code, error.text
        elif error is not None:
            record.error_code, record.error = errors.SCRIPT_ERROR.code, f"{errors.SCRIPT_ERROR.code} {error}"
        record.line = getattr(result, "line", None)
        record.column = getattr(result, "column", None)
        record.request_ids = [str(r) for r in (getattr(result, "request_ids", None) or ())]
        if not record.log.lines and not record.log.dropped:
            for line in getattr(result, "logs", None) or ():  # an engine that only hands the log back at the end
                on_log(line)

    def _finish(self, active: _Active) -> None:
        record, conn = active.record, active.conn
        try:
            if conn.broken:
                raise psycopg.OperationalError("the run's connection to staging was lost")
            record.finish(conn)
        except psycopg.Error:
            # Its lock went with the connection: record the end on another (it may already be abandoned).
            try:
                with self.db.pool.connection() as other:
                    record.finish(other)
            except Exception:
                log.exception("workflow %s: could not record the end of run %s", record.workflow, record.id)
        finally:
            try:
                if not conn.broken:
                    script_runs.unlock(conn, record.workflow)
            except psycopg.Error:
                pass
            conn.close()
            with self._lock:
                self._active.pop(record.id, None)


def _check_stop(active: _Active, conn: psycopg.Connection[Any], conn_lock: threading.Lock) -> None:
    if active.stop.is_set():
        return
    try:
        with conn_lock:
            if script_runs.stop_asked(conn, active.record.id):
                active.stop.set()
    except psycopg.Error as exc:  # the scheduler's loop (if any) or the next turn asks again
        log.debug("workflow %s: could not look for a stop request: %s", active.workflow.name, exc)


def _log_fields(line: tuple[Any, ...]) -> tuple[Any, str, str]:
    """(time, level, message) from `on_log(LogLine)` or `on_log(level, message)` or `on_log(time, level, message)`."""
    if len(line) == 1:
        item = line[0]
        if isinstance(item, tuple | list):
            return _log_fields(tuple(item))
        return getattr(item, "time", None), str(getattr(item, "level", "info")), str(getattr(item, "message", item))
    if len(line) == 2:
        return None, str(line[0]), str(line[1])
    return line[0], str(line[1]), str(line[2])
