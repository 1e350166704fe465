"""A run's record survives what a script may log or throw, its flusher stays cheap at the log cap, and a Stop
reaches a run on any process, with or without the scheduler's loop."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging import StagingDatabase
from ferry.workflows import definitions, script_runs
from ferry.workflows.definitions import Workflow
from ferry.workflows.runner import ScriptRunner
from ferry.workflows.schedule import Schedule
from ferry.workflows.script_runs import RunLog, RunRecord


def _runner(db: StagingDatabase, settings: Settings, script: Any) -> ScriptRunner:
    return ScriptRunner(db, dataclasses.replace(settings), lambda login: login, execute=script)


def test_nul_characters_and_lone_surrogates_do_not_lose_the_end_of_a_run(staging_db: StagingDatabase,
                                                                         settings: Settings) -> None:
    def script(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None], *_: Any) -> Any:
        on_log("info", "a\x00b")
        return SimpleNamespace(outcome="failed", error=FerryError(errors.SCRIPT_ERROR, "bad\x00 \udc80"), line=1,
                               column=2, logs=[], request_ids=[], instance_vars=None)

    definitions.add(staging_db.pool, "nul", "logInfo(1)", schedule=Schedule(every_seconds=60))
    record = _runner(staging_db, settings, script).run("nul", run_vars={"v": "x\x00y"})
    run = script_runs.get_run(staging_db.pool, record.id)
    assert run is not None and run["state"] == "failed" and run["error_code"] == "FRY-130001"
    assert run["error"].endswith("bad\ufffd \ufffd") and run["log"][0]["message"] == "a\ufffdb"
    assert run["vars"] == {"v": "x\ufffdy"}


class _Recording:
    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def execute(self, query: str, params: Any = None) -> None:
        self.statements.append((query, params))


def test_at_the_log_cap_a_flush_writes_only_the_dropped_count() -> None:
    record = RunRecord(uuid.uuid4(), "w", "manual", None, None, 1, "", {}, RunLog(2))
    conn = _Recording()
    for n in range(2):
        record.log.add(None, "info", f"line {n}")
    record.flush_log(conn)  # type: ignore[arg-type]
    record.log.add(None, "info", "dropped")
    record.flush_log(conn)  # type: ignore[arg-type]
    assert "log = " in conn.statements[0][0]
    assert "log = " not in conn.statements[1][0] and conn.statements[1][1][0] == 1


def test_a_stop_reaches_a_run_on_a_process_without_the_scheduler_loop(staging_db: StagingDatabase,
                                                                      settings: Settings) -> None:
    started = threading.Event()

    def script(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None],
               stop: threading.Event) -> Any:
        started.set()
        stopped = stop.wait(20)
        return SimpleNamespace(outcome="failed" if stopped else "succeeded", error=None, line=None, column=None,
                               logs=[], request_ids=[], instance_vars=None)

    definitions.add(staging_db.pool, "long", "logInfo(1)", schedule=Schedule(every_seconds=3600))
    runner = _runner(staging_db, settings, script)  # never start()ed: no scheduler loop (--role ingest, DuckDB)
    try:
        run_id = runner.start_run("long")
        assert started.wait(30)
        assert script_runs.request_stop(staging_db.pool, "long") == 1  # as another process's Stop does
        record = runner.wait(run_id, timeout=30)
    finally:
        runner.stop()
    assert record is not None and record.state == "stopped"
    assert dt.datetime.now(dt.UTC) >= record.started_at


def test_stopping_the_runner_releases_the_runs_still_queued(staging_db: StagingDatabase, settings: Settings) -> None:
    started = threading.Event()

    def script(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None],
               stop: threading.Event) -> Any:
        started.set()
        stop.wait(20)
        return SimpleNamespace(outcome="failed", error=None, line=None, column=None, logs=[], request_ids=[],
                               instance_vars=None)

    for name in ("first", "queued"):
        definitions.add(staging_db.pool, name, "logInfo(1)", schedule=Schedule(every_seconds=3600))
    runner = ScriptRunner(staging_db, settings, lambda login: login, execute=script, max_parallel=1)
    runner.start_run("first")
    assert started.wait(30)
    queued = runner.start_run("queued")  # waits behind `first`, its lock and `running` row taken
    runner.stop()
    record = runner.wait(queued, timeout=5)
    assert record is not None and record.state == "stopped"
    run = script_runs.get_run(staging_db.pool, queued)
    assert run is not None and run["state"] == "stopped" and run["ended_at"] is not None
    with staging_db.pool.connection() as conn:  # its workflow's lock is free again
        assert script_runs.lock(conn, "queued", wait=False)
        script_runs.unlock(conn, "queued")
