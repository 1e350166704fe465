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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import Code, FerryError
from ferry.scripts.results import LogLine, ScriptResult

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often `ferry js` looks for news of its run
TAKE_SECONDS = 0.5  # how often a server looks for requests


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
        def on_log(line: LogLine) -> None:
            entry = {"time": line.time.isoformat(), "level": line.level, "message": line.message}
            with self.pool.connection() as conn:
                conn.execute("UPDATE ferry.script_requests SET log = log || %s WHERE id = %s",
                             (Jsonb([entry]), request.id))

        try:
            result = self.run(request, on_log)
        except FerryError as exc:
            result = ScriptResult("failed", exc, None, None, filename=request.filename)
        except Exception as exc:
            log.exception("relayed script %s failed", request.id)
            result = ScriptResult("failed", FerryError(errors.SERVER_INTERNAL, f"the server could not run the script "
                                                       f"({type(exc).__name__})"), None, None,
                                  filename=request.filename)
        error = result.error
        with self.pool.connection() as conn:
            conn.execute("UPDATE ferry.script_requests SET ended_at = clock_timestamp(), outcome = %s, "
                         "error_code = %s, error_message = %s, error_file = %s, line = %s, col = %s, "
                         "request_ids = %s, run_id = %s WHERE id = %s",
                         (result.outcome, error.code.code if error else None, error.message if error else None,
                          result.filename, result.line, result.column, result.request_ids, result.run_id,
                          request.id))
