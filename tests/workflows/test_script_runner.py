"""The runner of workflow scripts: ticks, one run at a time across servers, abandoned runs, log and vars caps.

The engine is replaced here by a Python function standing for a script (`execute=`): these tests are about the
scheduling and the record; the real engine runs in tests/workflows/test_workflow_scripts.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging import StagingDatabase
from ferry.workflows import definitions, script_runs
from ferry.workflows.definitions import Workflow
from ferry.workflows.runner import ScriptRunner
from ferry.workflows.schedule import Schedule
from ferry.workflows.script_runs import RunRecord


def _result(outcome: str = "succeeded", **more: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {"outcome": outcome, "error": None, "line": None, "column": None, "logs": [],
                              "request_ids": [], "instance_vars": None}
    return SimpleNamespace(**{**fields, **more})


Script = Callable[[Workflow, RunRecord, Any, Callable[..., None], threading.Event], Any]


def _runner(db: StagingDatabase, settings: Settings, script: Script, **overrides: Any) -> ScriptRunner:
    return ScriptRunner(db, dataclasses.replace(settings, **overrides), lambda login: login, execute=script)


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture
def second_db(settings: Settings) -> Iterator[StagingDatabase]:
    """Another process's view of the same staging database (a second server)."""
    with StagingDatabase.open(settings) as db:
        yield db


def test_two_servers_run_each_tick_once_and_never_overlap(staging_db: StagingDatabase, second_db: StagingDatabase,
                                                          settings: Settings) -> None:
    ran: list[tuple[str, dt.datetime | None]] = []
    inside = threading.Semaphore(1)
    overlaps: list[str] = []

    def script(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None],
               stop: threading.Event) -> Any:
        if not inside.acquire(blocking=False):
            overlaps.append(str(record.id))
        else:
            time.sleep(0.3)
            inside.release()
        ran.append((str(api), record.scheduled_for))
        return _result()

    definitions.add(staging_db.pool, "everySecond", "logInfo(1)", schedule=Schedule(every_seconds=1))
    first, second = _runner(staging_db, settings, script), _runner(second_db, settings, script)
    first.start()
    second.start()
    try:
        _until(lambda: len(ran) >= 4)
    finally:
        first.stop()
        second.stop()
    runs = script_runs.list_runs(staging_db.pool, "everySecond", limit=100)
    ticks = [run["scheduled_for"] for run in runs]
    assert len(ticks) == len(set(ticks)) == len(ran)  # each tick ran once, on one server or the other
    assert all(run["state"] == "succeeded" and run["trigger"] == "schedule" for run in runs)
    assert overlaps == []


def test_a_missed_tick_runs_once_and_a_disabled_workflow_never(staging_db: StagingDatabase,
                                                              settings: Settings) -> None:
    calls: list[str] = []

    def script(workflow: Workflow, record: RunRecord, *_: Any) -> Any:
        calls.append(workflow.name)
        return _result()

    for name in ("hourly", "sleeping"):
        definitions.add(staging_db.pool, name, "logInfo(1)", schedule=Schedule(every_seconds=3600))
    definitions.set_enabled(staging_db.pool, "sleeping", False)
    with staging_db.pool.connection() as conn:  # every server was down for five hours
        conn.execute("UPDATE ferry.script_workflows SET next_run_at = clock_timestamp() - interval '5 hours 10 min'")
    runner = _runner(staging_db, settings, script)
    try:
        runner.run_due()
        _until(lambda: not runner.running() and len(calls) >= 1)
        assert runner.run_due() == 0
    finally:
        runner.stop()
    assert calls == ["hourly"]
    later = definitions.get(staging_db.pool, "hourly").next_run_at
    assert later is not None and dt.timedelta(0) < later - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    with pytest.raises(FerryError) as caught:
        _runner(staging_db, settings, script).run("sleeping")
    assert caught.value.code.code == "FRY-140007"


def test_one_run_at_a_time_and_abandoned_runs_closed(staging_db: StagingDatabase, second_db: StagingDatabase,
                                                     settings: Settings) -> None:
    release = threading.Event()

    def script(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None], *_: Any) -> Any:
        on_log(None, "info", "started")
        release.wait(30)
        return _result()

    definitions.add(staging_db.pool, "slow", "logInfo(1)", schedule=Schedule(cron="0 0 1 1 *"))
    one, other = _runner(staging_db, settings, script), _runner(second_db, settings, script)
    try:
        run_id = one.start_run("slow", started_by="test")
        with pytest.raises(FerryError) as caught:
            other.start_run("slow")
        assert caught.value.code.code == "FRY-140006"
        # While it runs, its log is visible to other servers (flushed as it goes).
        _until(lambda: bool((script_runs.get_run(staging_db.pool, run_id) or {}).get("log")))
        assert script_runs.close_abandoned(second_db.pool) == 0  # alive: its lock is held
        release.set()
        record = one.wait(run_id, 30)
        assert record is not None and record.state == "succeeded"
    finally:
        release.set()
        one.stop()
        other.stop()
    # A process died mid-run: its row stays `running` with nobody holding the lock.
    dead = uuid.uuid4()
    with staging_db.pool.connection() as conn:
        conn.execute("INSERT INTO ferry.script_runs (id, workflow, trigger, script_version, script_sha256, owner) "
                     "VALUES (%s, 'slow', 'schedule', 1, 'x', 'host pid 1')", (dead,))
    release.set()
    _runner(staging_db, settings, script).run("slow")
    closed = script_runs.get_run(staging_db.pool, dead)
    assert closed is not None and closed["state"] == "abandoned" and closed["error_code"] == "FRY-140009"


def test_log_cap_vars_cap_and_failure_kept(staging_db: StagingDatabase, settings: Settings) -> None:
    def chatty(workflow: Workflow, record: RunRecord, api: Any, on_log: Callable[..., None], *_: Any) -> Any:
        for n in range(10):
            on_log(dt.datetime.now(dt.UTC), "info", f"line {n}")
        return _result(instance_vars={"blob": "x" * 500, "n": 1})

    definitions.add(staging_db.pool, "chatty", "logInfo(1)", schedule=Schedule(every_seconds=60))
    record = _runner(staging_db, settings, chatty, workflow_log_lines=3, workflow_vars_bytes=100).run("chatty")
    run = script_runs.get_run(staging_db.pool, record.id)
    assert run is not None
    assert [line["message"] for line in run["log"]] == ["line 0", "line 1", "line 2"]
    assert run["log_dropped"] == 7 + 1  # the vars error was logged past the cap too
    assert run["state"] == "failed" and run["error_code"] == "FRY-140005"
    assert definitions.get(staging_db.pool, "chatty").instance_vars == {}  # nothing kept past the cap

    definitions.add(staging_db.pool, "chatty", "logInfo(2)", schedule=Schedule(every_seconds=60), replace=True)
    workflow = definitions.get(staging_db.pool, "chatty")
    assert workflow.script == "logInfo(2)" and workflow.script_version == 2
    with pytest.raises(FerryError) as caught:
        definitions.add(staging_db.pool, "chatty", "x", schedule=Schedule(every_seconds=60))
    assert caught.value.code.code == "FRY-140002"


def test_retention_drops_old_runs_but_the_latest(staging_db: StagingDatabase, settings: Settings) -> None:
    definitions.add(staging_db.pool, "kept", "logInfo(1)", schedule=Schedule(every_seconds=60))
    runner = _runner(staging_db, settings, lambda *_: _result())
    ids = [runner.run("kept").id for _ in range(3)]
    with staging_db.pool.connection() as conn:
        conn.execute("UPDATE ferry.script_runs SET ended_at = ended_at - interval '30 days'")
    assert script_runs.purge(staging_db.pool, 7.0) == 2
    assert [run["id"] for run in script_runs.list_runs(staging_db.pool, "kept")] == [ids[-1]]
