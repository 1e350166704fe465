"""`ferry js FILE [--var NAME=VALUE]… [--operator LOGIN] [--time-limit SECONDS]`: run a workflow script now.

Like `nlserver javascript -file`: `logInfo(msg)` prints `msg` alone on its line on stdout and nothing else goes
there (notices, warnings, errors go to stderr); the exit status is 1 when the script throws, calls `logError` or
is stopped, with `file:line:column`, the FRY code and the message on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ferry import errors
from ferry.auth import Authenticator, Operator
from ferry.cli.common import DataDir, err_console, fail, open_staging, settings_for
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.scripts import relay
from ferry.scripts.api import ScriptApi, local_owner
from ferry.scripts.results import LogLine, ScriptResult
from ferry.scripts.runner import DEFAULT_TIME_LIMIT, run_script
from ferry.staging import warehouse_identity
from ferry.staging.database import StagingDatabase
from ferry.warehouse import Warehouse, open_warehouse

MAX_SCRIPT_BYTES = 4 << 20
# How long a running server has to take a relayed script before `ferry js` gives up (as `ferry sync`).
RELAY_TAKE_SECONDS = 10.0


def js(
    file: Annotated[Path, typer.Argument(help="The script (Campaign workflow JavaScript, with E4X).",
                                         show_default=False)],
    var: Annotated[list[str] | None, typer.Option("--var", metavar="NAME=VALUE",
                                                  help="A workflow variable the script reads as vars.NAME "
                                                  "(repeatable).")] = None,
    operator: Annotated[str | None, typer.Option("--operator", metavar="LOGIN",
                                                 help="Run with this operator's rights (default: the local owner "
                                                 "of the data folder, with every right).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, metavar="SECONDS",
                                              help="Stop the script after this long.")] = DEFAULT_TIME_LIMIT,
    data_dir: DataDir = None,
) -> None:
    """Run a workflow JavaScript file now against staging and the warehouse (like `nlserver javascript`)."""
    source = _read(file)
    variables = _vars(var or [])
    settings = settings_for(data_dir)
    opened: list[Warehouse] = []
    with open_staging(settings) as db:
        runner = _operator(db, settings, operator)
        try:
            held = _held_by_server(db, settings, opened)
            if held is not None:
                # A running `ferry serve` holds the DuckDB file: it runs the script (as `ferry sync` is relayed).
                result = _relayed(db, str(file), source, variables, operator, runner, time_limit, held)
            else:
                api = ScriptApi.for_staging(db, settings, runner, warehouse=lambda: _warehouse(db, settings, opened))
                result = run_script(source, filename=str(file), api=api, vars=variables, time_limit=time_limit,
                                    on_log=_print)
        finally:
            for warehouse in opened:
                warehouse.close()
    _print_run(result)
    if result.outcome != "succeeded" and result.error is not None:
        err_console.print(f"{result.location}: [bold red]{result.error.code.code}[/] {result.error.message}",
                          highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1)


def _print(line: LogLine) -> None:
    if line.level == "info":
        sys.stdout.write(line.message + "\n")
        sys.stdout.flush()
    else:
        sys.stderr.write(f"{line.level}: {line.message}\n")
        sys.stderr.flush()


def _print_run(result: ScriptResult) -> None:
    """The run's id on stderr (stdout carries only logInfo lines): what to look up to see what it staged."""
    if result.run_id is None:
        return
    count = len(result.request_ids)
    sys.stderr.write(f"run {result.run_id}: staged {count} call{'' if count == 1 else 's'}"
                     f" (GET /api/v1/requests/{result.run_id})\n")
    sys.stderr.flush()


def _read(file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(FerryError(errors.SCRIPT_FILE, f"cannot read {file}: {exc.strerror or exc}"))
    if len(data) > MAX_SCRIPT_BYTES:
        fail(FerryError(errors.SCRIPT_FILE, f"{file} is larger than {MAX_SCRIPT_BYTES >> 20} MiB"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(FerryError(errors.SCRIPT_FILE, f"{file} is not UTF-8 text ({exc.reason} at byte {exc.start})"))


def _vars(pairs: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(FerryError(errors.SCRIPT_BAD_ARGUMENT, f"--var {pair!r}: write NAME=VALUE"))
        variables[name.strip()] = value
    return variables


def _operator(db: StagingDatabase, settings: Settings, login: str | None) -> Operator:
    if login is None:
        return local_owner()
    found = Authenticator(db.pool, settings).get_operator(login)
    if found is None:
        fail(FerryError(errors.UNKNOWN_OPERATOR, f"no operator {login!r} (see `ferry operator list`)"))
    if found.disabled:
        fail(FerryError(errors.FORBIDDEN, f"operator {login!r} is disabled"))
    return found


def _held_by_server(db: StagingDatabase, settings: Settings, opened: list[Warehouse]) -> FerryError | None:
    """With a DuckDB warehouse, open it now: the lock error when another process (a `ferry serve`) holds it."""
    if not settings.effective_warehouse_url.lower().startswith("duckdb://"):
        return None
    try:
        _warehouse(db, settings, opened, relayable=True)
    except _Held as held:
        return held.cause
    except FerryError:  # any other trouble with the warehouse is the script's only if it reads or writes there
        pass
    return None


def _relayed(db: StagingDatabase, filename: str, source: str, variables: dict[str, str], login: str | None,
             runner: Operator, time_limit: float, cause: FerryError) -> ScriptResult:
    request_id = relay.request_run(db.pool, filename=filename, source=source, vars=variables, operator_login=login,
                                   requested_by=runner.login, time_limit=time_limit)
    deadline = time.monotonic() + RELAY_TAKE_SECONDS
    watch = relay.Watch(db.pool, request_id, time_limit)
    seen = 0
    while True:
        taken, lines, ended = relay.state(db.pool, request_id, seen)
        for line in lines:
            _print(line)
        seen += len(lines)
        if ended is not None:
            result = relay.result_of(ended, filename)
            result.run_id = str(request_id)  # the server ran it under this id (see RelayedRuns)
            return result
        if not taken and time.monotonic() > deadline and relay.cancel(db.pool, request_id):
            err_console.print("the warehouse is held by another process and no running `ferry serve` took the "
                              "script", highlight=False)
            fail(cause)
        try:
            watch.check(taken)
        except FerryError as exc:  # the server that took it died, or never recorded the end
            fail(exc)
        time.sleep(relay.POLL_SECONDS)


class _Held(Exception):
    def __init__(self, cause: FerryError) -> None:
        super().__init__(cause.text)
        self.cause = cause


def _warehouse(db: StagingDatabase, settings: Settings, opened: list[Warehouse], *, relayable: bool = False) -> Any:
    """The warehouse, opened on the script's first query or Write and checked to be the one staging feeds."""
    if opened:
        return opened[0]
    try:
        warehouse = open_warehouse(settings.effective_warehouse_url)
    except FerryError as exc:
        if "lock" not in exc.message.lower():
            raise
        if relayable:
            raise _Held(exc) from None
        raise FerryError(errors.WAREHOUSE_UNAVAILABLE, "the DuckDB warehouse file is held by a running `ferry "
                         "serve`: staging calls (Ingest, IngestExt, Subscribe) work, but queries and Write need "
                         "the warehouse; stop the server, or run the script as a workflow of that server") from None
    try:
        warehouse_identity.verify(db.pool, warehouse)
    except FerryError:
        warehouse.close()
        raise
    opened.append(warehouse)
    return warehouse


def register(app: typer.Typer) -> None:
    """Attach `js` to `app`."""
    app.command("js")(js)
