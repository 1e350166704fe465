"""`ferry workflow add|list|run|disable|enable|remove|history|log`: scheduled workflow scripts."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ferry import errors
from ferry.cli.common import AsJson, DataDir, console, err_console, fail, open_staging, print_json, settings_for, table
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.workflows import definitions, script_runs
from ferry.workflows.definitions import Workflow
from ferry.workflows.runner import ScriptRunner, operator_for
from ferry.workflows.schedule import Schedule, parse_cron, parse_every

_T = TypeVar("_T")

workflow_app = typer.Typer(help="Scheduled workflow scripts: add, list, run, disable, enable, remove, history.",
                           no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The workflow's internal name (letters, digits, underscores).")]


def _on_staging(data_dir: Path | None, action: Callable[[StagingDatabase, Settings], _T]) -> _T:
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        try:
            return action(db, settings)
        except FerryError as exc:
            fail(exc)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _state(state: str | None) -> str:
    colour = {"succeeded": "green", "failed": "red", "timed_out": "red", "stopped": "yellow",
              "abandoned": "magenta", "running": "cyan"}.get(state or "", "white")
    return f"[{colour}]{state or '-'}[/]"


@workflow_app.command("add")
def add(
    name: Name,
    script: Annotated[Path, typer.Option("--script", help="The JavaScript file; its text is stored with the "
                                         "workflow (a later edit changes nothing until add --replace).",
                                         exists=True, dir_okay=False, readable=True)],
    every: Annotated[str | None, typer.Option("--every", help="Run every DURATION: 30s, 15m, 1h, 1h30m, 1d.",
                                              metavar="DURATION")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Run on a cron schedule (5 fields, UTC), e.g. "
                                             "\"0 2 * * *\".", metavar="EXPR")] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Run as this operator (its rights); default: "
                                                 "with every right, like nlserver javascript.",
                                                 metavar="LOGIN")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Stop a run after this many seconds.",
                                              metavar="SECONDS", min=0.001)] = definitions.DEFAULT_TIME_LIMIT,
    replace: Annotated[bool, typer.Option("--replace", help="Give an existing workflow this script and schedule "
                                          "(its instance.vars and history are kept).")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Add a workflow: a script run on a schedule by the server's scheduler (roles all and sync)."""
    if (every is None) == (cron is None):
        fail(FerryError(errors.BAD_SCHEDULE, "give exactly one schedule: --every DURATION or --cron \"EXPR\""))
    try:
        schedule = Schedule(every_seconds=parse_every(every)) if every is not None else \
            Schedule(cron=parse_cron(cron or "").text)
        text = script.read_text(encoding="utf-8")
    except FerryError as exc:
        fail(exc)
    except (OSError, UnicodeDecodeError) as exc:
        fail(FerryError(errors.BAD_WORKFLOW, f"cannot read {script} as UTF-8 text: {exc}"))
    workflow = _on_staging(data_dir, lambda db, _s: definitions.add(
        db.pool, name, text, schedule=schedule, source=str(script.resolve()), operator_login=operator,
        time_limit=time_limit, replace=replace))
    if as_json:
        print_json([workflow.view()])
        return
    console.print(f"workflow [bold]{workflow.name}[/] stored (script version {workflow.script_version}, "
                  f"{workflow.schedule.describe()}, next run {_when(workflow.next_run_at)} UTC)")


@workflow_app.command("list")
def list_(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """The workflows with their schedule, next run and last outcome."""

    def gather(db: StagingDatabase, _settings: Settings) -> list[tuple[Workflow, dict[str, Any] | None]]:
        return [(w, next(iter(script_runs.list_runs(db.pool, w.name, limit=1)), None))
                for w in definitions.list_all(db.pool)]

    found = _on_staging(data_dir, gather)
    if as_json:
        print_json([{**w.view(), "lastRun": run_json(last) if last else None} for w, last in found])
        return
    listing = table("name", "schedule", "operator", "enabled", "next run (UTC)", "last run (UTC)", "last outcome",
                    "version")
    for workflow, last in found:
        listing.add_row(workflow.name, workflow.schedule.describe(), workflow.operator_login or "(all rights)",
                        "yes" if workflow.enabled else "[yellow]no[/]",
                        _when(workflow.next_run_at) if workflow.enabled else "-",
                        _when(last["started_at"]) if last else "-", _state(last["state"]) if last else "-",
                        str(workflow.script_version))
    console.print(listing)


def _parse_vars(pairs: list[str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(FerryError(errors.BAD_WORKFLOW, f"--var {pair!r} must be NAME=VALUE"))
        found[key.strip()] = value
    return found


@workflow_app.command("run")
def run(
    name: Name,
    wait: Annotated[bool, typer.Option("--wait", help="If the workflow is running elsewhere, wait for that run to "
                                       "end, then run, instead of refusing.")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="Set vars.NAME for this run; repeat for several.",
                                                  metavar="NAME=VALUE")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Run a workflow now, recorded in its history; prints its log and outcome.

    Runs in this process; while a running server holds the DuckDB warehouse, that server runs it instead (its log
    printed as it comes, --wait honoured)."""
    run_vars = _parse_vars(var)
    printed: list[int] = [0]  # log lines already printed (a relayed run's, as they came)

    def show(line: dict[str, str]) -> None:
        if not as_json:
            _print_line(line)
            printed[0] += 1

    def go(db: StagingDatabase, settings: Settings) -> dict[str, Any]:
        opened: list[Any] = []
        workflow = definitions.get(db.pool, name)  # an unknown name is told here, whoever holds the warehouse
        try:
            held = _held_by_server(db, settings, opened)
            if held is not None:
                return _relayed(db, workflow, run_vars, held, wait=wait, show=show)
            runner = ScriptRunner(db, settings, cli_api_factory(db, settings, opened))
            try:
                record = runner.run(name, trigger="manual", started_by="ferry workflow run", run_vars=run_vars,
                                    wait=wait, on_log=show)
            finally:
                runner.stop()
        finally:
            for warehouse in opened:
                warehouse.close()
        lines, dropped = record.log.snapshot()
        return {"id": str(record.id), "workflow": record.workflow, "state": record.state,
                "errorCode": record.error_code, "error": record.error, "line": record.line,
                "column": record.column, "log": lines, "logDropped": dropped,
                "requestIds": record.request_ids, "startedAt": record.started_at.isoformat(),
                "endedAt": record.ended_at.isoformat() if record.ended_at else None}

    view = _on_staging(data_dir, go)
    if as_json:
        print_json([view])
    else:
        for line in view["log"][printed[0]:]:
            _print_line(line)
        if view["logDropped"]:
            err_console.print(f"({view['logDropped']} more log lines were not kept)")
        where = f" at line {view['line']}" if view["line"] else ""
        if view["error"]:
            err_console.print(f"[red]{view['error']}[/]{where}")
        console.print(f"run {view['id']}: {_state(view['state'])}")
    if view["state"] != "succeeded":
        raise typer.Exit(1)


def _print_line(line: dict[str, str]) -> None:
    (err_console if line["level"] in ("warning", "error") else console).print(line["message"], markup=False,
                                                                              highlight=False)


def _relayed(db: StagingDatabase, workflow: Workflow, run_vars: dict[str, Any], held: FerryError, *, wait: bool,
             show: Callable[[dict[str, str]], None]) -> dict[str, Any]:
    """Leave the run to the running server that holds the DuckDB file (as `ferry js` does): each log line shown
    as the server writes it back, then its recorded run. With `wait`, a run of the workflow in progress (anywhere)
    is waited for, as a run in this process would wait on the workflow's lock."""
    while True:
        if wait:
            _wait_for_the_running_run(db, workflow.name)
        ended = _relay_once(db, workflow, run_vars, held, show, wait)
        if ended is not None:
            return ended
        # The server found a run in progress again (one started between our wait and its start): wait again.


def _wait_for_the_running_run(db: StagingDatabase, name: str) -> None:
    """Return once no run of `name` holds the workflow's lock (taken and released at once: the server takes it)."""
    conn = script_runs.connect(db.pool)
    try:
        if not script_runs.lock(conn, name, wait=False):
            err_console.print(f"workflow {name} is running: waiting for that run to end (--wait)")
            script_runs.lock(conn, name, wait=True)
        script_runs.unlock(conn, name)
    finally:
        conn.close()


def _relay_once(db: StagingDatabase, workflow: Workflow, run_vars: dict[str, Any], held: FerryError,
                show: Callable[[dict[str, str]], None], wait: bool) -> dict[str, Any] | None:
    """One relayed run; None when the server found a run in progress (WORKFLOW_BUSY) and `wait` is set."""
    from ferry.cli.js_cmd import RELAY_TAKE_SECONDS
    from ferry.scripts import relay
    from ferry.scripts.api import local_owner

    request_id = relay.request_run(db.pool, filename=f"{workflow.name}.js", source="",
                                   vars={key: str(value) for key, value in run_vars.items()}, operator_login=None,
                                   requested_by=local_owner().login, time_limit=workflow.time_limit,
                                   workflow=workflow.name)
    deadline = time.monotonic() + RELAY_TAKE_SECONDS
    seen = 0
    watch = relay.Watch(db.pool, request_id, workflow.time_limit)
    while True:
        taken, lines, ended = relay.state(db.pool, request_id, seen)
        seen += len(lines)
        for line in lines:
            show({"time": line.time.isoformat(), "level": line.level, "message": line.message})
        if ended is not None:
            break
        watch.check(taken)  # FRY-140009 once the server that took it is gone or overdue
        if not taken and time.monotonic() > deadline and relay.cancel(db.pool, request_id):
            raise FerryError(errors.WORKFLOW_WAREHOUSE_HELD,
                             f"another process holds the DuckDB warehouse and no running `ferry serve` took the "
                             f"run of {workflow.name!r}: start it on the server that holds the file "
                             f"(`POST /api/v1/workflow/{workflow.name}/start`, or Run now in its console), or stop "
                             f"that process ({held.message})")
        time.sleep(relay.POLL_SECONDS)
    result = relay.result_of(ended, workflow.name)
    run = script_runs.get_run(db.pool, uuid.UUID(result.run_id)) if result.run_id else None
    if run is None:
        if result.error is not None and result.error.code.code == errors.WORKFLOW_BUSY.code and wait:
            return None
        raise result.error or FerryError(errors.SERVER_INTERNAL, "the server did not record the run")
    return {"id": str(run["id"]), "workflow": run["workflow"], "state": run["state"],
            "errorCode": run["error_code"], "error": run["error"], "line": run["line"], "column": run["col"],
            "log": run["log"], "logDropped": run["log_dropped"], "requestIds": run["request_ids"],
            "startedAt": run["started_at"].isoformat(),
            "endedAt": run["ended_at"].isoformat() if run["ended_at"] else None}


def _set_enabled(name: str, enabled: bool, as_json: bool, data_dir: Path | None) -> None:
    workflow = _on_staging(data_dir, lambda db, _s: definitions.set_enabled(db.pool, name, enabled))
    if as_json:
        print_json([workflow.view()])
        return
    state = "enabled" if enabled else "disabled"
    following = f", next run {_when(workflow.next_run_at)} UTC" if enabled else ""
    console.print(f"workflow [bold]{workflow.name}[/] {state}{following}")


@workflow_app.command("disable")
def disable(name: Name, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Stop scheduling a workflow (a run in progress ends normally)."""
    _set_enabled(name, False, as_json, data_dir)


@workflow_app.command("enable")
def enable(name: Name, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Schedule a disabled workflow again, from its next tick on."""
    _set_enabled(name, True, as_json, data_dir)


@workflow_app.command("remove")
def remove(name: Name, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Delete a workflow (its past runs stay in the history until retention drops them)."""
    _on_staging(data_dir, lambda db, _s: definitions.remove(db.pool, name))
    if as_json:
        print_json([{"name": name, "removed": True}])
        return
    console.print(f"workflow [bold]{name}[/] removed")


def run_json(run: dict[str, Any]) -> dict[str, Any]:
    """A script run as `--json` shows it (the REST vocabulary)."""
    view = {"id": run["id"], "workflow": run["workflow"], "state": run["state"], "trigger": run["trigger"],
            "startedAt": run["started_at"], "endedAt": run["ended_at"], "scheduledFor": run.get("scheduled_for"),
            "startedBy": run.get("started_by"), "operator": run.get("operator_login"),
            "scriptVersion": run["script_version"], "errorCode": run["error_code"], "error": run["error"],
            "line": run["line"], "column": run["col"], "logLines": run.get("log_lines"),
            "logDropped": run["log_dropped"], "requestIds": run["request_ids"]}
    if "log" in run:
        view["log"] = run["log"]
    return view


@workflow_app.command("history")
def history(
    name: Annotated[str | None, typer.Argument(help="Only runs of this workflow.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """The latest runs of workflow scripts, newest first."""

    def gather(db: StagingDatabase, _settings: Settings) -> list[dict[str, Any]]:
        if name is not None:
            definitions.get(db.pool, name)
        return script_runs.list_runs(db.pool, name, limit=limit)

    runs = _on_staging(data_dir, gather)
    if as_json:
        print_json([run_json(run) for run in runs])
        return
    print_runs(runs)


def print_runs(runs: list[dict[str, Any]]) -> None:
    """The table of script runs (`ferry workflow history`, and below the sync's runs in `ferry workflows`)."""
    listing = table("started (UTC)", "workflow", "trigger", "state", "s", "log", "version", "error", "run")
    for run in runs:
        ended = run["ended_at"]
        seconds = f"{(ended - run['started_at']).total_seconds():.1f}" if ended else "-"
        logged = str(run.get("log_lines", len(run.get("log") or ())))
        if run["log_dropped"]:
            logged += f" (+{run['log_dropped']} dropped)"
        where = f" (line {run['line']})" if run.get("line") else ""
        listing.add_row(_when(run["started_at"]), run["workflow"], run["trigger"], _state(run["state"]), seconds,
                        logged, str(run["script_version"]), (run["error"] or "") + (where if run["error"] else ""),
                        str(run["id"]))
    console.print(listing)


@workflow_app.command("log")
def log_(
    run_id: Annotated[str, typer.Argument(help="The run's id (from ferry workflow history).", metavar="RUN")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """A run's log lines and outcome."""
    try:
        key = uuid.UUID(run_id)
    except ValueError:
        fail(FerryError(errors.BAD_WORKFLOW, f"{run_id!r} is not a run id (see ferry workflow history)"))
    run = _on_staging(data_dir, lambda db, _s: script_runs.get_run(db.pool, key))
    if run is None:
        fail(FerryError(errors.NOT_FOUND, f"no workflow run {run_id}"))
    if as_json:
        print_json([run_json(run)])
        return
    for line in run["log"]:
        console.print(f"{line['time'][:19]} {line['level']:<7} {line['message']}", markup=False, highlight=False)
    if run["log_dropped"]:
        console.print(f"({run['log_dropped']} more lines were not kept)")
    console.print(f"{run['workflow']} run {run['id']}: {_state(run['state'])} {run['error'] or ''}")


def _held_by_server(db: StagingDatabase, settings: Settings, opened: list[Any]) -> FerryError | None:
    """The lock error when a running `ferry serve` holds the DuckDB warehouse (else it is opened into `opened`)."""
    from ferry.cli.js_cmd import _held_by_server as held_by_server

    return held_by_server(db, settings, opened)


def cli_api_factory(db: StagingDatabase, settings: Settings, opened: list[Any]) -> Callable[[str | None], Any]:
    """The JSAPI of a run started from the CLI, as the workflow's operator (as `ferry js` serves it)."""
    from ferry.cli.js_cmd import _warehouse as checked_warehouse
    from ferry.scripts.api import ScriptApi

    def api_for(login: str | None) -> Any:
        operator = operator_for(db.pool, settings, login)
        return ScriptApi.for_staging(db, settings, operator, warehouse=lambda: checked_warehouse(db, settings, opened))

    return api_for


def register(app: typer.Typer) -> None:
    """Attach `workflow` to `app`."""
    app.add_typer(workflow_app, name="workflow")
