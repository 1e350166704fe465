"""Workflow scripts in the real engine: instance.vars across runs and restarts, failures kept with their log and
code, the time limit, Stop, and `ferry workflow` on the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.cli.workflow_cmd import cli_api_factory
from ferry.config import Settings
from ferry.ingest import Method, build_call
from ferry.ingest.documents import RawRecord
from ferry.staging import StagingDatabase
from ferry.workflows import definitions, script_runs
from ferry.workflows.runner import ScriptRunner
from ferry.workflows.schedule import Schedule

COUNTER = """
instance.vars.n = (instance.vars.n || 0) + 1;
logInfo(instance.vars.n);
"""


def _runner(db: StagingDatabase, settings: Settings) -> ScriptRunner:
    return ScriptRunner(db, settings, cli_api_factory(db, settings, []))


def _messages(db: StagingDatabase, run_id: Any) -> list[str]:
    run = script_runs.get_run(db.pool, run_id)
    assert run is not None
    return [line["message"] for line in run["log"]]


def test_instance_vars_count_across_runs_and_a_restart(settings: Settings) -> None:
    with StagingDatabase.open(settings) as db:
        definitions.add(db.pool, "counter", COUNTER, schedule=Schedule(every_seconds=3600))
        runner = _runner(db, settings)
        first = [runner.run("counter") for _ in range(3)]
    assert [r.state for r in first] == ["succeeded"] * 3
    # A new process on the same staging database (a restarted server) goes on counting.
    with StagingDatabase.open(settings) as db:
        assert [_messages(db, r.id) for r in first] == [["1"], ["2"], ["3"]]
        fourth = _runner(db, settings).run("counter")
        assert _messages(db, fourth.id) == ["4"]
        assert definitions.get(db.pool, "counter").instance_vars == {"n": 4}


def test_a_failed_run_keeps_its_log_and_coded_error(staging_db: StagingDatabase, settings: Settings) -> None:
    script = 'logInfo("reading " + vars.file);\nlogWarning("careful");\nthrow new Error("no such file");\n'
    definitions.add(staging_db.pool, "failing", script, schedule=Schedule(every_seconds=60))
    record = _runner(staging_db, settings).run("failing", run_vars={"file": "in.csv"})
    run = script_runs.get_run(staging_db.pool, record.id)
    assert run is not None
    assert run["state"] == "failed" and run["error_code"] == "FRY-130001" and "no such file" in run["error"]
    assert run["line"] == 3
    assert [(line["level"], line["message"]) for line in run["log"]] == [("info", "reading in.csv"),
                                                                         ("warning", "careful")]
    assert run["vars"] == {"file": "in.csv"} and run["script_version"] == 1


def test_staged_calls_are_named_in_the_run(staging_db: StagingDatabase, settings: Settings) -> None:
    script = ('xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="a@example.com"/>);\n'
              'xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="b@example.com"/>);\n')
    definitions.add(staging_db.pool, "importer", script, schedule=Schedule(every_seconds=60))
    record = _runner(staging_db, settings).run("importer")
    assert record.state == "succeeded", record.error
    assert len(record.request_ids) == 2
    run = script_runs.get_run(staging_db.pool, record.id)
    assert run is not None and run["request_ids"] == record.request_ids


def test_a_runaway_script_is_stopped_by_its_time_limit_while_ingest_goes_on(staging_db: StagingDatabase,
                                                                            settings: Settings) -> None:
    definitions.add(staging_db.pool, "runaway", 'logInfo("spinning");\nwhile (true) {}\n',
                    schedule=Schedule(every_seconds=60), time_limit=2.0)
    runner = _runner(staging_db, settings)
    run_id = runner.start_run("runaway")
    staged = 0
    try:
        while runner.wait(run_id, 0.01) is None:  # ingest calls meanwhile, each committed
            record = RawRecord(1, "nms:recipient", {"email": f"r{staged}@example.com"}, None, None)
            staging_db.store.stage([build_call(staging_db.registry, Method.INGEST, [record])])
            staged += 1
    finally:
        runner.stop()
    run = script_runs.get_run(staging_db.pool, run_id)
    assert run is not None and run["state"] == "timed_out" and run["error_code"] == "FRY-130002"
    assert _messages(staging_db, run_id) == ["spinning"]
    assert staged > 0
    assert staging_db.store.status()  # staging answered throughout


def test_stop_ends_a_running_run(staging_db: StagingDatabase, settings: Settings) -> None:
    definitions.add(staging_db.pool, "spinner", "while (true) {}", schedule=Schedule(every_seconds=60),
                    time_limit=600)
    runner = _runner(staging_db, settings)
    other = _runner(staging_db, settings)  # Stop may come from another server
    try:
        run_id = runner.start_run("spinner")
        ask = threading.Timer(0.5, lambda: other.stop_run("spinner"))
        ask.start()
        record = None
        while record is None:
            runner.check_stops()  # what the scheduler's loop does every half second
            record = runner.wait(run_id, 0.2)
        ask.join()
    finally:
        runner.stop()
        other.stop()
    assert record.state == "stopped"
    run = script_runs.get_run(staging_db.pool, run_id)
    assert run is not None and run["state"] == "stopped" and run["error_code"] == "FRY-140008"


CliRun = Callable[..., Any]


@pytest.fixture
def ferry_cli(cli_env: dict[str, str]) -> CliRun:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), env=cli_env)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_the_workflow_commands(ferry_cli: CliRun, tmp_path: Path) -> None:
    script = tmp_path / "hello.js"
    script.write_text('logInfo("hello " + (vars.who || "nobody"));\n', encoding="utf-8")
    added = json.loads(ferry_cli("workflow", "add", "hello", "--script", str(script), "--every", "1h",
                                 "--time-limit", "30", "--json").stdout)
    assert added[0]["schedule"] == "every 1h" and added[0]["timeLimit"] == 30
    # The stored script runs, not the file as it is now.
    script.write_text('throw new Error("edited");\n', encoding="utf-8")
    result = ferry_cli("workflow", "run", "hello", "--var", "who=world")
    assert "hello world" in result.stdout and "succeeded" in result.stdout
    ferry_cli("workflow", "add", "hello", "--script", str(script), "--cron", "0 2 * * *", code=1)
    ferry_cli("workflow", "add", "hello", "--script", str(script), "--cron", "0 2 * * *", "--replace")
    failed = json.loads(ferry_cli("workflow", "run", "hello", "--json", code=1).stdout)[0]
    assert failed["state"] == "failed" and failed["errorCode"] == "FRY-130001"
    listed = json.loads(ferry_cli("workflow", "list", "--json").stdout)
    assert listed[0]["cron"] == "0 2 * * *" and listed[0]["scriptVersion"] == 2
    assert listed[0]["lastRun"]["state"] == "failed"
    disabled = json.loads(ferry_cli("workflow", "disable", "hello", "--json").stdout)
    assert disabled[0]["enabled"] is False
    assert "FRY-140007" in ferry_cli("workflow", "run", "hello", code=1).stderr
    ferry_cli("workflow", "enable", "hello")
    history = json.loads(ferry_cli("workflow", "history", "hello", "--json").stdout)
    assert [run["state"] for run in history] == ["failed", "succeeded"]
    assert [run["scriptVersion"] for run in history] == [2, 1]
    logged = json.loads(ferry_cli("workflow", "log", history[1]["id"], "--json").stdout)
    assert logged[0]["log"][0]["message"] == "hello world"
    short = ferry_cli("workflows")  # the history's short form shows these runs too
    assert "hello" in short.stdout
    everything = json.loads(ferry_cli("workflows", "--json").stdout)
    assert {run["workflow"] for run in everything} >= {"hello"}
    ferry_cli("workflow", "remove", "hello")
    assert "FRY-140001" in ferry_cli("workflow", "run", "hello", code=1).stderr


def _holding(warehouse: Path) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file, as a running `ferry serve` does (DuckDB lets one process open it)."""
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.read()", str(warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_workflow_run_refuses_when_no_server_takes_it(cli_env: dict[str, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ferry.cli.js_cmd.RELAY_TAKE_SECONDS", 0.3)
    warehouse = tmp_path / "held.duckdb"
    env = {**cli_env, "FERRY_WAREHOUSE_URL": f"duckdb:///{warehouse}"}
    runner = CliRunner()
    script = tmp_path / "write.js"
    script.write_text('logInfo("started");\n', encoding="utf-8")
    added = runner.invoke(app, ["workflow", "add", "writer", "--script", str(script), "--every", "1h"], env=env)
    assert added.exit_code == 0, added.output
    holder = _holding(warehouse)
    try:
        refused = runner.invoke(app, ["workflow", "run", "writer"], env=env)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert refused.exit_code == 1, refused.output
    assert "FRY-140010" in refused.stderr and "/api/v1/workflow/writer/start" in refused.stderr
    assert "started" not in refused.stdout  # not run in this process, where its Write would fail half-way
    history = runner.invoke(app, ["workflow", "history", "writer", "--json"], env=env)
    assert json.loads(history.stdout) == []
    ran = runner.invoke(app, ["workflow", "run", "writer"], env=env)  # the file free again: it runs here
    assert ran.exit_code == 0 and "started" in ran.stdout, ran.output


@pytest.mark.anyio
async def test_workflow_run_is_relayed_to_the_server_holding_the_duckdb_file(in_process: Any,
                                                                             settings: Settings) -> None:
    async with in_process(settings) as (runtime, _client):
        assert runtime.relayed_scripts is not None
        pool = runtime.db.pool
        # A warehouse query: the CLI's own process cannot open the file the server holds (FRY-500001 if it tried).
        query = ('logWarning("who=" + vars.who + " count=" + xtk.queryDef.create(<queryDef schema="nms:recipient" '
                 'operation="count"/>).ExecuteQuery().@count);\n')
        await asyncio.to_thread(definitions.add, pool, "counter", COUNTER + query,
                                schedule=Schedule(every_seconds=3600))
        env = {**os.environ, "FERRY_DATABASE_URL": str(settings.database_url),
               "FERRY_DATA_DIR": str(settings.data_dir), "FERRY_WAREHOUSE_URL": settings.effective_warehouse_url,
               "COLUMNS": "200"}
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ferry.cli", "workflow", "run",
                                                        "counter", "--var", "who=me"],
                                       env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "1" and "who=me count=0" in done.stderr and "succeeded" in done.stdout
        runs = await asyncio.to_thread(script_runs.list_runs, pool, "counter", limit=5)
        assert [run["state"] for run in runs] == ["succeeded"]
        assert runs[0]["started_by"].startswith("ferry workflow run") and f"run {runs[0]['id']}" in done.stdout
        assert (await asyncio.to_thread(definitions.get, pool, "counter")).instance_vars == {"n": 1}


GATED = """
logInfo("first");
while (getOption("GateOpen") != "1") {}
logInfo("second");
"""


def _relay_streams_and_waits(pool: Any, env: dict[str, str]) -> tuple[int, str, str]:
    """`ferry workflow run gated --wait` beside the server while a run of `gated` holds its lock (as a run in
    progress elsewhere would): it waits; once released, the server runs it and its first log line is printed while
    the script still waits on an option the test sets only after reading that line."""
    import queue

    import psycopg

    holder = script_runs.connect(pool)
    assert script_runs.lock(holder, "gated", wait=False)
    cli = subprocess.Popen([sys.executable, "-m", "ferry.cli", "workflow", "run", "gated", "--wait"],
                           env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert cli.stdout is not None and cli.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in cli.stdout], daemon=True)
    reader.start()
    try:
        with psycopg.connect(str(env["FERRY_DATABASE_URL"]), autocommit=True) as conn:
            for _ in range(600):  # the CLI waits on the workflow's lock (instead of the server refusing the run)
                waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                       ).fetchone()
                if (waiting and waiting[0]) or cli.poll() is not None:
                    break
                threading.Event().wait(0.1)
            assert cli.poll() is None, cli.stderr.read()
            assert script_runs.list_runs(pool, "gated", limit=5) == []
            holder.close()
            first = lines.get(timeout=120)  # printed as it came: the script cannot end before the gate opens
            assert first == "first" and cli.poll() is None
            conn.execute("INSERT INTO ferry.options (\"name\", \"dataType\", \"stringValue\", \"modifiedBy\") "
                         "VALUES ('GateOpen', 6, '1', 'test')")
        cli.wait(timeout=120)
        reader.join(timeout=60)
    finally:
        holder.close()
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    return cli.returncode, "\n".join([first, *rest]), cli.stderr.read()


@pytest.mark.anyio
async def test_a_relayed_workflow_run_streams_its_log_and_honours_wait(in_process: Any, settings: Settings) -> None:
    async with in_process(settings) as (runtime, _client):
        assert runtime.relayed_scripts is not None
        pool = runtime.db.pool
        await asyncio.to_thread(definitions.add, pool, "gated", GATED, schedule=Schedule(every_seconds=3600))
        env = {**os.environ, "FERRY_DATABASE_URL": str(settings.database_url),
               "FERRY_DATA_DIR": str(settings.data_dir), "FERRY_WAREHOUSE_URL": settings.effective_warehouse_url,
               "COLUMNS": "200"}
        code, out, err = await asyncio.to_thread(_relay_streams_and_waits, pool, env)
        assert code == 0, err
        assert out.splitlines()[:2] == ["first", "second"] and out.count("first") == 1, out
        runs = await asyncio.to_thread(script_runs.list_runs, pool, "gated", limit=5)
        assert [run["state"] for run in runs] == ["succeeded"] and f"run {runs[0]['id']}" in out
