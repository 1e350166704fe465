"""Relayed scripts and run results stay bounded and always get an end: capped logs, dead takers, NUL characters."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ferry import errors
from ferry.errors import FerryError
from ferry.scripts import relay, results
from ferry.scripts.relay import RelayedRuns, ScriptRequest
from ferry.scripts.results import LogLine, ScriptResult
from ferry.scripts.runner import run_script
from ferry.workflows import script_runs
from script_bench import ScriptBench


class _NoApi:
    run_id: str | None = None

    def serve(self, op: str, args: dict[str, Any]) -> Any:
        raise AssertionError(f"no call expected ({op})")


def test_a_huge_message_is_cut_in_the_worker_and_the_parent_keeps_a_capped_log(monkeypatch: Any) -> None:
    monkeypatch.setattr(results, "MAX_KEPT_LINES", 5)
    seen: list[LogLine] = []
    result = run_script('var s = "x".repeat(1 << 20); for (var i = 0; i < 20; i++) logInfo(s);', filename="big.js",
                        api=_NoApi(), time_limit=60, on_log=seen.append)
    assert result.outcome == "succeeded", result.error
    assert len(seen) == 20 and all(len(line.message) < 4100 for line in seen)
    assert seen[0].message.endswith(f"… ({(1 << 20) - 4000} more characters)")
    assert len(result.logs) == 5 and result.logs_dropped == 15


def _one(pool: Any, request_id: uuid.UUID) -> dict[str, Any]:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM ferry.script_requests WHERE id = %s", (request_id,)).fetchone()
    assert row is not None
    return row


def _take(bench: ScriptBench, relayed: RelayedRuns, source: str = "") -> ScriptRequest:
    relay.request_run(bench.db.pool, filename="x.js", source=source, vars={}, operator_login=None,
                      requested_by="local:test", time_limit=30)
    request = relayed.take()
    assert request is not None
    return request


def test_the_relayed_log_is_capped_and_nul_characters_do_not_lose_the_end(bench: ScriptBench,
                                                                            monkeypatch: Any) -> None:
    monkeypatch.setattr(relay, "MAX_KEPT_LINES", 3)

    def run(request: ScriptRequest, on_log: Callable[[LogLine], None]) -> ScriptResult:
        for number in range(10):
            on_log(LogLine(dt.datetime.now(dt.UTC), "info", f"line {number}\x00" + "y" * 5000))
        return ScriptResult("failed", FerryError(errors.SCRIPT_ERROR, "bad \x00 \ud800 end"), 1, 1,
                            filename="x\x00.js")

    relayed = RelayedRuns(bench.db.pool, run)
    request = _take(bench, relayed)
    relayed._run(request)
    row = _one(bench.db.pool, request.id)
    assert row["ended_at"] is not None and row["outcome"] == "failed" and row["error_code"] == "FRY-130001"
    assert row["error_message"] == "bad \ufffd \ufffd end"
    messages = [item["message"] for item in row["log"]]
    assert len(messages) == 4 and messages[0].startswith("line 0\ufffdyyy") and len(messages[0]) < 4100
    assert messages[-1] == "(7 more log lines were not kept)"


def test_the_end_is_retried_while_staging_is_away(bench: ScriptBench, monkeypatch: Any) -> None:
    monkeypatch.setattr(relay, "END_RETRY_SECONDS", 0.0)
    relayed = RelayedRuns(bench.db.pool, lambda request, on_log: ScriptResult("succeeded", None, None, None))
    request = _take(bench, relayed)
    real, failures = bench.db.pool.connection, [2]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            raise psycopg.OperationalError("staging went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(bench.db.pool, "connection", flaky)
    relayed.end(request.id, ScriptResult("succeeded", None, None, None))
    monkeypatch.setattr(bench.db.pool, "connection", real)
    assert _one(bench.db.pool, request.id)["outcome"] == "succeeded"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_request_taken_by_a_dead_process_is_closed_and_its_cli_stops_waiting(bench: ScriptBench) -> None:
    pool = bench.db.pool
    relayed = RelayedRuns(pool, lambda request, on_log: ScriptResult("succeeded", None, None, None))
    dead = f"{relay.socket.gethostname()}:{_dead_pid()}"
    waited, left = _take(bench, relayed), _take(bench, relayed)
    with pool.connection() as conn:
        conn.execute("UPDATE ferry.script_requests SET taken_by = %s WHERE id = ANY(%s)", (dead, [waited.id, left.id]))
    watch = relay.Watch(pool, waited.id, 30)
    with pytest.raises(FerryError) as raised:
        watch.check(True)
    assert raised.value.code.code == "FRY-140009"
    assert relay.taker_gone(f"{relay.socket.gethostname()}:{os.getpid()}") is False
    assert relay.close_dead(pool) == 1  # the one no CLI closed: a server at start closes it
    for request_id in (waited.id, left.id):
        row = _one(pool, request_id)
        assert (row["outcome"], row["error_code"]) == ("failed", "FRY-140009")
        assert relay.state(pool, request_id, 0)[2] is not None


def test_old_requests_go_with_the_runs_retention(bench: ScriptBench) -> None:
    pool = bench.db.pool
    old = relay.request_run(pool, filename="o.js", source="", vars={}, operator_login=None,
                            requested_by="local:test", time_limit=30)
    fresh = relay.request_run(pool, filename="f.js", source="", vars={}, operator_login=None,
                              requested_by="local:test", time_limit=30)
    with pool.connection() as conn:
        conn.execute("UPDATE ferry.script_requests SET requested_at = requested_at - interval '9 days', "
                     "ended_at = clock_timestamp() - interval '8 days', outcome = 'succeeded' WHERE id = %s", (old,))
    script_runs.purge(pool, 7)
    with pool.connection() as conn:
        kept = {row[0] for row in conn.execute("SELECT id FROM ferry.script_requests").fetchall()}
    assert old not in kept and fresh in kept


def test_deep_e4x_nesting_is_a_coded_syntax_error_with_its_position() -> None:
    source = "var ok = 1;\nvar x = " + "<a>" * 600 + "</a>" * 600 + ";\n"
    result = run_script(source, filename="deep.js", api=_NoApi(), time_limit=60)
    assert result.outcome == "failed" and result.error is not None
    assert result.error.code.code == "FRY-130011" and "nests too deeply" in result.error.message
    assert result.line == 2 and result.column is not None and result.column > 1


def test_ferry_js_stops_waiting_when_the_server_that_took_its_script_died(bench: ScriptBench,
                                                                          tmp_path: Any) -> None:
    bench.warehouse()  # held here, as by a running `ferry serve`
    pool, stop = bench.db.pool, threading.Event()
    with pool.connection() as conn:  # the module's other tests left some: this taker must take the CLI's
        conn.execute("DELETE FROM ferry.script_requests WHERE taken_at IS NULL")
    dead = f"{relay.socket.gethostname()}:{_dead_pid()}"

    def die_with_it() -> None:  # a server that takes the script and is killed before it ends
        relayed = RelayedRuns(pool, lambda request, on_log: ScriptResult("succeeded", None, None, None))
        while not stop.is_set():
            request = relayed.take()
            if request is not None:
                with pool.connection() as conn:
                    conn.execute("UPDATE ferry.script_requests SET taken_by = %s WHERE id = %s", (dead, request.id))
                return
            stop.wait(0.1)

    taker = threading.Thread(target=die_with_it, daemon=True)
    taker.start()
    script = tmp_path / "orphan.js"
    script.write_text('logInfo("never");\n')
    env = {**os.environ, "FERRY_DATABASE_URL": str(bench.settings.database_url),
           "FERRY_DATA_DIR": str(bench.settings.data_dir),
           "FERRY_WAREHOUSE_URL": bench.settings.effective_warehouse_url}
    try:
        done = subprocess.run([sys.executable, "-m", "ferry.cli", "js", str(script)], env=env, capture_output=True,
                              text=True, timeout=300)
    finally:
        stop.set()
        taker.join(10)
    assert done.returncode == 1 and "FRY-140009" in done.stderr, done.stderr
