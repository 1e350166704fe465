"""`ferry sync [SCHEMA] [--wait]` and `ferry workflows` (the history of runs)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Annotated, Any

import typer
from psycopg.rows import dict_row
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

from ferry.cli.common import AsJson, DataDir, console, fail, open_staging, print_json, settings_for, show, table
from ferry.cli.workflow_cmd import print_runs as print_script_runs
from ferry.cli.workflow_cmd import run_json as script_run_view
from ferry.errors import FerryError
from ferry.staging.database import StagingDatabase
from ferry.sync import RunResult, run_once
from ferry.warehouse import open_warehouse
from ferry.workflows import list_runs, script_runs
from ferry.workflows.history import RUN_STATES, run_view
from ferry.workflows.requests import cancel_request, request_state, request_sync

# How long a running server has to take a relayed sync request before `ferry sync` gives up.
RELAY_TAKE_SECONDS = 10.0


def sync(
    schema: Annotated[str | None, typer.Argument(help="Staged schema (e.g. nms:recipient); default: all.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for a worker already syncing the schema instead of "
                                       "skipping it.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run ffdaReplicateStagingData now, until everything staged so far is synced.

    It runs in this process; without --wait a schema another worker is already syncing is skipped. When a running
    `ferry serve` holds the DuckDB warehouse file, the sync is handed to that server (--wait waits for its runs).
    """
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        db.reload_schemas()
        if schema is None:
            schema_ids = [s.id for s in db.registry.staged()]
        else:
            try:
                schema_ids = [db.registry.resolve_staged(schema).id]
            except FerryError as exc:
                fail(exc)
        try:
            warehouse = open_warehouse(settings.effective_warehouse_url)
        except FerryError as exc:
            if "lock" not in exc.message.lower():
                fail(exc)
            # A running `ferry serve` holds the DuckDB file: ask its scheduler to run the sync instead.
            _relay(db, schema_ids[0] if schema is not None else None, wait, exc)
            return
        results: list[RunResult] = []
        try:
            pending = {item.schema_id: item.counts["staged"] for item in db.store.status()}
            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True,
                          disable=not console.is_terminal) as bar:
                for schema_id in schema_ids:
                    task = bar.add_task(f"sync {schema_id}", total=max(1, pending.get(schema_id, 0)))

                    def advance(result: RunResult, task: TaskID = task) -> None:
                        bar.update(task, completed=result.counts["read"])

                    results.append(run_once(db, warehouse, schema_id, settings, wait=wait, progress=advance))
        finally:
            warehouse.close()
    listing = table("schema", "state", "batches", "read", "inserted", "updated", "deleted", "skipped", "failed",
                    "seconds")
    for r in results:
        seconds = (r.ended_at - r.started_at).total_seconds() if r.ended_at else 0.0
        c = r.counts
        listing.add_row(r.schema_id or "", _state(r.state), str(r.batches), str(c["read"]), str(c["inserted"]),
                        str(c["updated"]), str(c["deleted"]), str(c["skipped"]), str(c["failed"]),
                        f"{seconds:.1f}")
    show(listing)
    for r in results:
        if r.error:
            console.print(f"{r.schema_id}: [red]{r.error}[/]")
    if any(r.state == "failed" for r in results):
        raise typer.Exit(1)


def _relay(db: StagingDatabase, schema_id: str | None, wait: bool, cause: FerryError) -> None:
    request_id = request_sync(db.pool, schema_id, requested_by="ferry sync")
    deadline = time.monotonic() + RELAY_TAKE_SECONDS
    state = request_state(db.pool, request_id)
    while state is not None and not state.taken and time.monotonic() < deadline:
        time.sleep(0.2)
        state = request_state(db.pool, request_id)
    if state is None or not state.taken:
        if cancel_request(db.pool, request_id):
            console.print("[red]the warehouse is held by another process and no running `ferry serve` took the "
                          "sync request[/]")
            fail(cause)
        state = request_state(db.pool, request_id)
        assert state is not None
    if state.error:
        console.print(f"[red]{state.error}[/]")
        raise typer.Exit(1)
    console.print(f"the warehouse is open in a running `ferry serve`: its scheduler started {len(state.run_ids)} "
                  "run(s)")
    if not wait:
        console.print("see them with [bold]ferry workflows[/] (or pass --wait)")
        return
    runs = _runs(db, state.run_ids)
    with console.status("waiting for the runs to finish"):
        while len(runs) < len(state.run_ids) or any(run["state"] == "running" for run in runs):
            time.sleep(0.5)
            runs = _runs(db, state.run_ids)
    _print_runs(runs)
    if any(run["state"] == "failed" for run in runs):
        raise typer.Exit(1)


def _runs(db: StagingDatabase, run_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM ferry.workflow_runs WHERE id = ANY(%s) ORDER BY started_at",
                           (run_ids,)).fetchall()


def workflows(
    schema_argument: Annotated[str | None, typer.Argument(metavar="[SCHEMA]", help="Only runs of this schema.")]
    = None,
    schema: Annotated[str | None, typer.Option("--schema", help="Only runs of this schema (same as the argument).",
                                               show_default=False)] = None,
    state: Annotated[list[str] | None, typer.Option(
        "--state", help=f"Only runs that ended so (repeatable): {', '.join(RUN_STATES)}.", show_default=False)]
    = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """The latest runs of the sync and purge workflows and of workflow scripts, newest first (the scheduler's idle
    sync runs are only counted)."""
    unknown = sorted(set(state or ()) - set(RUN_STATES))
    if unknown:
        raise typer.BadParameter(f"unknown state {', '.join(unknown)}; known: {', '.join(RUN_STATES)}",
                                 param_hint="--state")
    if schema and schema_argument and schema != schema_argument:
        raise typer.BadParameter("give the schema once (argument or --schema)", param_hint="--schema")
    schema = schema or schema_argument
    with open_staging(settings_for(data_dir)) as db:
        runs = list_runs(db.pool, schema, limit=limit, states=state)
        # Workflow scripts belong to no schema; their outcomes use the same words (succeeded, failed, abandoned).
        scripted = [run for run in script_runs.list_runs(db.pool, limit=limit) if not state or run["state"] in state
                    ] if schema is None else []
    if as_json:
        print_json([run_view(run) for run in runs] + [script_run_view(run) for run in scripted])
        return
    _print_runs(runs)
    if scripted:
        print_script_runs(scripted)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    listing = table("started (UTC)", "workflow", "schema", "state", "read", "ins", "upd", "del", "skip", "fail", "s",
                    "error")
    for run in runs:
        ended = run["ended_at"]
        seconds = f"{(ended - run['started_at']).total_seconds():.1f}" if ended else "-"
        started = run["started_at"].astimezone(dt.UTC).strftime("%m-%d %H:%M:%S")
        listing.add_row(started, run["workflow"], run["schema_id"] or "", _state(run["state"]),
                        str(run["rows_read"]), str(run["rows_inserted"]),
                        str(run["rows_updated"]), str(run["rows_deleted"]), str(run["rows_skipped"]),
                        str(run["rows_failed"]), seconds, run["error"] or "")
    show(listing)


def _state(state: str) -> str:
    colour = {"succeeded": "green", "failed": "red", "skipped": "yellow", "abandoned": "magenta"}.get(state, "white")
    return f"[{colour}]{state}[/]"


def register(app: typer.Typer) -> None:
    """Attach `sync` and `workflows` to `app`."""
    app.command("sync")(sync)
    app.command("workflows")(workflows)
