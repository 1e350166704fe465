"""Scripts relayed through staging to the running server that holds a DuckDB warehouse file (as `ferry sync` is).

DuckDB lets one process open a file: while `ferry serve` holds it, `ferry js` leaves the script here
(`ferry.script_requests`), the server's `RelayedRuns` takes it and runs it with `run_script`, writing each log line
and the outcome back, and `ferry js` prints them as they come and exits with the script's status. `ferry workflow
run` leaves a request naming its workflow: the server runs it as that workflow's run and writes back the run's id.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import Code, FerryError
from ferry.scripts.results import MAX_KEPT_LINES, LogLine, ScriptResult, cut_message, storable

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often `ferry js` looks for news of its run
TAKE_SECONDS = 0.5  # how often a server looks for requests
GRACE_SECONDS = 60.0  # past a taken request's time limit, how long its CLI still waits for the end
PROBE_SECONDS = 1.0  # how often a waiting CLI looks whether the process that took its request lives
END_ATTEMPTS = 3  # tries to record a run's end as it was, before recording at least that it failed
END_RETRY_SECONDS = 0.5


@dataclass(frozen=True)
class ScriptRequest:
    """A script left for a server: what to run and as whom (`operator_login` None: the local owner)."""

    id: uuid.UUID
    filename: str
    source: str
    vars: dict[str, str]
    operator_login: str | None
    requested_by: str
    time_limit: float
    workflow: str | None = None  # `ferry workflow run`: run this stored workflow (its script), not `source`


def request_run(pool: ConnectionPool, *, filename: str, source: str, vars: dict[str, str],
                operator_login: str | None, requested_by: str, time_limit: float,
                workflow: str | None = None) -> uuid.UUID:
    """Leave a script (or a run of the stored workflow `workflow`) for a running server; returns the request's id."""
    request_id = uuid.uuid4()
    with pool.connection() as conn:
        conn.execute("INSERT INTO ferry.script_requests (id, filename, source, vars, operator_login, requested_by, "
                     "time_limit, workflow) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (request_id, filename, source, Jsonb(vars), operator_login, requested_by, time_limit,
                      workflow))
    return request_id


def cancel(pool: ConnectionPool, request_id: uuid.UUID) -> bool:
    """Withdraw a request no server took yet; False when one did."""
    with pool.connection() as conn:
        cur = conn.execute("DELETE FROM ferry.script_requests WHERE id = %s AND taken_at IS NULL", (request_id,))
    return cur.rowcount == 1


def state(pool: ConnectionPool, request_id: uuid.UUID, seen: int) -> tuple[bool, list[LogLine], dict[str, Any] | None]:
    """(taken, the log lines after the first `seen`, the outcome row once ended)."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT taken_at, ended_at, outcome, error_code, error_message, error_file, line, col, "
                          "request_ids, run_id, "
                          "jsonb_path_query_array(log, ('$[' || %s || ' to last]')::jsonpath) AS fresh "
                          "FROM ferry.script_requests WHERE id = %s", (seen, request_id)).fetchone()
    if row is None:
        raise FerryError(errors.NOT_FOUND, f"script request {request_id} is gone")
    lines = [LogLine(dt.datetime.fromisoformat(item["time"]), item["level"], item["message"])
             for item in (row["fresh"] or [])]
    return row["taken_at"] is not None, lines, row if row["ended_at"] is not None else None


def result_of(row: dict[str, Any], filename: str) -> ScriptResult:
    """The ScriptResult an ended request's row stands for (its log lines are printed as they come, not here)."""
    error = None
    if row["error_code"]:
        code = next((v for v in vars(errors).values() if isinstance(v, Code) and v.code == row["error_code"]),
                    Code(row["error_code"], "error raised by the script"))
        error = FerryError(code, row["error_message"] or "")
    return ScriptResult(row["outcome"], error, row["line"], row["col"], request_ids=list(row["request_ids"] or []),
                        filename=row["error_file"] or filename,
                        run_id=str(row["run_id"]) if row.get("run_id") is not None else None)


class RelayedRuns:
    """A server's side: take the script requests left in staging and run them, one thread per run.

    `run(request, on_log)` runs one request to its end (the server builds the operator's ScriptApi and calls
    `run_script`); this class records the log lines and the outcome."""

    def __init__(self, pool: ConnectionPool, run: Callable[[ScriptRequest, Callable[[LogLine], None]], ScriptResult]
                 ) -> None:
        self.pool = pool
        self.run = run
        self.who = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start looking for requests (every TAKE_SECONDS)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ferry-script-requests", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop looking (runs in progress end on their own, within their time limit)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        try:  # at start: what a process that died took will never end otherwise
            if closed := close_dead(self.pool):
                log.warning("closed %d relayed script(s) taken by a process that is gone", closed)
        except Exception as exc:  # staging down: the CLIs waiting see it themselves
            log.debug("could not close dead script requests: %s", exc)
        while not self._stop.is_set():
            try:
                request = self.take()
                if request is not None:
                    threading.Thread(target=self._run, args=(request,), name="ferry-script-relayed",
                                     daemon=True).start()
                    continue
            except Exception as exc:  # staging down: try again at the next tick
                log.debug("could not take script requests: %s", exc)
            self._stop.wait(TAKE_SECONDS)

    def take(self) -> ScriptRequest | None:
        """Claim the oldest request nobody took."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "UPDATE ferry.script_requests SET taken_at = clock_timestamp(), taken_by = %s WHERE id = ("
                "SELECT id FROM ferry.script_requests WHERE taken_at IS NULL ORDER BY requested_at "
                "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, filename, source, vars, operator_login, requested_by, "
                "time_limit, workflow", (self.who,)).fetchone()
        if row is None:
            return None
        return ScriptRequest(row["id"], row["filename"], row["source"], dict(row["vars"] or {}),
                             row["operator_login"], row["requested_by"], float(row["time_limit"]), row["workflow"])

    def _run(self, request: ScriptRequest) -> None:
        kept = [0, 0]  # lines written, lines past the cap (counted only, as a workflow run's log does)

        def on_log(line: LogLine) -> None:
            if kept[0] >= MAX_KEPT_LINES:
                kept[1] += 1
                return
            kept[0] += 1
            entry = storable({"time": line.time.isoformat(), "level": line.level,
                              "message": cut_message(line.message)})
            try:
                with self.pool.connection() as conn:
                    conn.execute("UPDATE ferry.script_requests SET log = log || %s WHERE id = %s",
                                 (Jsonb([entry]), request.id))
            except Exception as exc:  # the run goes on; `ferry js` misses this line
                log.debug("relayed script %s: a log line was not written: %s", request.id, exc)

        try:
            result = self.run(request, on_log)
        except FerryError as exc:
            result = ScriptResult("failed", exc, None, None, filename=request.filename)
        except Exception as exc:
            log.exception("relayed script %s failed", request.id)
            result = ScriptResult("failed", FerryError(errors.SERVER_INTERNAL, f"the server could not run the script "
                                                       f"({type(exc).__name__})"), None, None,
                                  filename=request.filename)
        self.end(request.id, result, kept[1])

    def end(self, request_id: uuid.UUID, result: ScriptResult, dropped: int = 0) -> None:
        """Record the end of a request: retried while staging is away, then at least its failure (a CLI waits)."""
        error = result.error
        tail = [{"time": dt.datetime.now(dt.UTC).isoformat(), "level": "warning",
                 "message": f"({dropped} more log lines were not kept)"}] if dropped else []
        full: list[Any] = storable([result.outcome, error.code.code if error else None,
                                    error.message if error else None, result.filename, result.line, result.column,
                                    result.request_ids, result.run_id])
        failed = result.outcome != "succeeded"
        bare: list[Any] = [result.outcome, errors.SERVER_INTERNAL.code if failed else None,
                           "the server could not record how the script ended" if failed else None,
                           None, None, None, [], None]
        refused = False  # the values themselves were refused (not staging away): only the bare end will do
        for number in range(END_ATTEMPTS + 1):
            values = bare if refused or number == END_ATTEMPTS else full
            try:
                with self.pool.connection() as conn:
                    conn.execute("UPDATE ferry.script_requests SET ended_at = clock_timestamp(), outcome = %s, "
                                 "error_code = %s, error_message = %s, error_file = %s, line = %s, col = %s, "
                                 "request_ids = %s, run_id = %s, log = log || %s WHERE id = %s",
                                 (*values, Jsonb(tail), request_id))
                return
            except Exception as exc:
                log.warning("relayed script %s: could not record its end (attempt %d): %s", request_id,
                            number + 1, exc)
                if values is bare:
                    if number == END_ATTEMPTS:
                        return
                    refused = True
                elif isinstance(exc, psycopg.DataError):
                    refused = True
                    continue
                time.sleep(min(END_RETRY_SECONDS * 2 ** number, 10.0))


def taker_gone(taken_by: str | None) -> bool:
    """Whether the process named `taken_by` (`host:pid`) is known to be gone: only on this host can it be seen."""
    host, _, pid = (taken_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def close_dead(pool: ConnectionPool) -> int:
    """Close (`failed`, FRY-140009) the requests taken by a process now gone, or overdue by their time limit plus
    GRACE_SECONDS on another host: a CLI waiting for them stops waiting. Returns how many."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT id, taken_by, clock_timestamp() > taken_at + make_interval(secs => time_limit "
                            "+ %s) FROM ferry.script_requests WHERE taken_at IS NOT NULL AND ended_at IS NULL",
                            (GRACE_SECONDS,)).fetchall()
    closed = 0
    for request_id, taken_by, overdue in rows:
        here = (taken_by or "").rpartition(":")[0] == socket.gethostname()
        if taker_gone(taken_by) or (overdue and not here):
            closed += abandon(pool, request_id, taken_by)
    return closed


def abandon(pool: ConnectionPool, request_id: uuid.UUID, taken_by: str | None) -> int:
    """End a taken request nobody will end (1), unless it ended meanwhile (0)."""
    with pool.connection() as conn:
        cur = conn.execute("UPDATE ferry.script_requests SET ended_at = clock_timestamp(), outcome = 'failed', "
                           "error_code = %s, error_message = %s WHERE id = %s AND ended_at IS NULL",
                           (errors.WORKFLOW_ABANDONED.code, f"the process that took the script "
                            f"({taken_by or 'unknown'}) is gone or did not record its end in time: its outcome is "
                            "unknown", request_id))
    return cur.rowcount


class Watch:
    """A CLI's patience with its relayed request once a server took it: until the time limit plus GRACE_SECONDS,
    and only while the process that took it lives (seen every PROBE_SECONDS)."""

    def __init__(self, pool: ConnectionPool, request_id: uuid.UUID, time_limit: float) -> None:
        self.pool = pool
        self.request_id = request_id
        self.time_limit = time_limit
        self.taken_at: float | None = None
        self.next_probe = 0.0

    def check(self, taken: bool) -> None:
        """After a `state` without an end: close the request and raise FRY-140009 when nothing will end it."""
        if not taken:
            return
        now = time.monotonic()
        if self.taken_at is None:
            self.taken_at = now
        overdue = now > self.taken_at + self.time_limit + GRACE_SECONDS
        if not overdue and now < self.next_probe:
            return
        self.next_probe = now + PROBE_SECONDS
        with self.pool.connection() as conn:
            row = conn.execute("SELECT taken_by FROM ferry.script_requests WHERE id = %s",
                               (self.request_id,)).fetchone()
        taken_by = row[0] if row else None
        if (overdue or taker_gone(taken_by)) and abandon(self.pool, self.request_id, taken_by):
            why = "is gone" if not overdue else (f"did not record its end within its time limit of "
                                                 f"{self.time_limit:g} s and {GRACE_SECONDS:g} s more")
            raise FerryError(errors.WORKFLOW_ABANDONED, f"the server that took the run ({taken_by}) {why}: its "
                             "outcome is unknown (see that server's log)")
