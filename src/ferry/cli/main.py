"""The `ferry` command: one Typer app, one module per command group."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

import ferry
from ferry.cli.labels import PlainLabelsGroup
from ferry.logs import configure_logging
from ferry.private_files import keep_private

app = typer.Typer(
    name="ferry",
    help="Campaign v8 FFDA-style ingestion: Ingest / IngestExt into PostgreSQL staging, replicated to a warehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=PlainLabelsGroup,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ferry {ferry.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print ferry's version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    """Campaign v8 FFDA-style ingestion: Ingest / IngestExt into PostgreSQL staging, replicated to a warehouse."""
    keep_private()  # the data folder, the warehouse file and its WAL: the user's alone (docs/security.md)


def _register() -> None:
    # One line per command module; each exposes register(app).
    from ferry.cli import foundation_cmd

    foundation_cmd.register(app)
    from ferry.cli import operator_cmd

    operator_cmd.register(app)
    from ferry.cli import serve_cmd

    serve_cmd.register(app)
    from ferry.cli import sync_cmd

    sync_cmd.register(app)
    from ferry.cli import doctor_cmd

    doctor_cmd.register(app)
    from ferry.cli import doctor_tables

    doctor_tables.register(doctor_cmd.doctor_app)
    from ferry.cli import service_cmd

    service_cmd.register(app)
    from ferry.cli import js_cmd

    js_cmd.register(app)
    from ferry.cli import backup_cmd

    backup_cmd.register(app)
    from ferry.cli import workflow_cmd

    workflow_cmd.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    configure_logging(level=logging.WARNING)  # JSON lines when FERRY_LOG_JSON is set; `ferry serve` re-reads it
    app()
