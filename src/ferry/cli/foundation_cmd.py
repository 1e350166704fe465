"""`ferry init`, `ferry schema apply|list`, `ferry ingest`, `ferry status`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from ferry.cli.common import (
    AsJson,
    DataDir,
    console,
    fail,
    human_age,
    open_staging,
    plural,
    print_json,
    settings_for,
    show,
    table,
)
from ferry.errors import FerryError
from ferry.ingest.bulk import load_file
from ferry.ingest.files import FileFormat
from ferry.ingest.operations import Method
from ferry.schema.loader import load_schema_file

schema_app = typer.Typer(help="Apply and list schemas.", no_args_is_help=True)

CONFIG_TEMPLATE = """\
# ferry configuration. Environment variables (FERRY_*) override these values; command-line flags override both.
# ferry commands run in this folder or any folder below it use this file (like git finds its repository).
# Relative paths here are relative to this file's folder.
[ferry]
data_dir = "ferry-data"     # embedded PostgreSQL (staging) and the DuckDB warehouse live here
# database_url = "postgresql://user@localhost/ferry"   # staging on your own server instead of the embedded one
# warehouse_url = "duckdb://ferry-data/warehouse.duckdb" # the default; duckdb:///abs/path.duckdb, postgresql://…
sync_interval = 3600        # seconds between runs of ffdaReplicateStagingData
retention_days = 7          # synced and skipped rows are purged after this
"""


def init(
    path: Annotated[Path, typer.Argument(help="Folder to initialise.")] = Path("."),
) -> None:
    """Create ferry.toml and a schemas/ folder holding the dem:sampleTable example."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "ferry.toml"
    if config.exists():
        console.print(f"{config} exists, left as it is")
    else:
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
        console.print(f"wrote {config}")
    schemas = path / "schemas"
    schemas.mkdir(exist_ok=True)
    sample = schemas / "dem_sampleTable.xml"
    if not sample.exists():
        text = (resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml").read_text(encoding="utf-8")
        sample.write_text(text, encoding="utf-8")
        console.print(f"wrote {sample}")
    console.print("next: [bold]ferry schema apply schemas/[/] then [bold]ferry serve[/]")


def _schema_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.xml")) if path.is_dir() else [path])
    return files


@schema_app.command("apply")
def schema_apply(
    paths: Annotated[list[Path], typer.Argument(help="srcSchema XML files or folders of them.")],
    data_dir: DataDir = None,
) -> None:
    """Load schemas, then create or evolve their staging tables (columns are added, never dropped)."""
    files = _schema_files(paths)
    if not files:
        console.print("no schema file found")
        raise typer.Exit(1)
    try:
        schemas = [load_schema_file(file) for file in files]
    except FerryError as exc:
        fail(exc)
    with open_staging(settings_for(data_dir)) as db:
        for schema in schemas:
            change = db.catalog.apply(schema)
            if not schema.staged:
                console.print(f"{schema.id}: stored (not staged)")
                continue
            if change.created:
                what = "staging table created"
            elif change.changed:
                what = "staging table evolved"
            else:
                what = "unchanged"
            console.print(f"{schema.id}: {what} (staging schema {schema.staging_id})")
            for name in change.added:
                console.print(f"  + column {name}")
            for name in change.widened:
                console.print(f"  ~ column {name} widened")
            for name in change.removed:
                console.print(f"  [yellow]! attribute {name} is no longer in the schema; its column and data are "
                              "kept[/]")
            for note in change.refused:
                console.print(f"  [yellow]! {note}[/]")


@schema_app.command("list")
def schema_list(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List applied schemas with their staging state."""
    with open_staging(settings_for(data_dir)) as db:
        schemas = list(db.registry)
    if as_json:
        # The REST API's vocabulary (GET /api/v1/schemas): id, stagingId.
        print_json([{"id": s.id, "staged": s.staged, "stagingId": s.staging_id if s.staged else None,
                     "attributes": len(s.attributes), "keys": [["@" + name for name in key.fields] for key in s.keys]}
                    for s in schemas])
        return
    listing = table("schema", "staged", "staging schema", "attributes", "keys")
    for schema in schemas:
        keys = "; ".join(",".join("@" + name for name in key.fields) for key in schema.keys)
        listing.add_row(schema.id, "yes" if schema.staged else "no", schema.staging_id if schema.staged else "",
                        str(len(schema.attributes)), keys)
    show(listing)


def ingest(
    file: Annotated[Path, typer.Argument(help="XML, JSON, NDJSON or CSV file.", exists=True, dir_okay=False)],
    schema: Annotated[str, typer.Option("--schema", help="Staged schema, e.g. nms:recipient.")],
    ext: Annotated[bool, typer.Option("--ext", help="IngestExt (insertOrUpdate / update / delete) instead of "
                                      "Ingest (insert only).")] = False,
    fmt: Annotated[FileFormat | None, typer.Option("--format", help="Override the format the extension implies.")]
    = None,
    chunk: Annotated[int, typer.Option("--chunk", help="Records per COPY and commit.", min=1)] = 10_000,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", help="A CSV's text encoding (e.g. latin-1, cp1252, utf-16) when it has no byte-order mark; "
        "default UTF-8.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Stage a bulk file; good records are staged in chunks, refused ones are listed with their reason."""
    method = Method.INGEST_EXT if ext else Method.INGEST
    with open_staging(settings_for(data_dir)) as db:
        size = file.stat().st_size
        # No bar when the output is not a terminal: a transient bar would leave a blank first line.
        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
                      disable=not console.is_terminal) as bar:
            task = bar.add_task(f"staging {file.name}", total=size)
            report = load_file(db.store, db.registry, file, schema, method, fmt=fmt, chunk_rows=chunk,
                               encoding=encoding, progress=lambda done: bar.update(task, completed=done))
        console.print(f"[bold]{report.staged}[/] {plural(report.staged, 'record')} staged into {report.schema_id} "
                      f"({len(report.requests)} {plural(len(report.requests), 'request')}), "
                      f"[bold]{report.refused}[/] refused")
        for error in report.refusals[:20]:
            console.print(f"  [red]{error.code.code}[/] {error.message}")
        if report.refused > 20:
            console.print(f"  … and {report.refused - 20} more")
        if report.refused:
            raise typer.Exit(2)


def status(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Rows per state for every staged schema, the oldest unsynced row's age, and the last sync run."""
    from ferry.workflows import sync_metrics

    with open_staging(settings_for(data_dir)) as db:
        items = sync_metrics(db)
    if as_json:
        print_json([{"schema": item.schema_id, "counts": item.counts,  # as GET /api/v1/status names them
                     "lagSeconds": item.lag_seconds if item.counts["staged"] else None,
                     "lastSuccess": item.last_success, "lastState": item.last_state,
                     "lastError": item.last_error} for item in items])
        return
    listing = table("schema", "staged", "synced", "skipped", "failed", "oldest unsynced", "last success",
                    "last run")
    for item in items:
        counts = item.counts
        last_success = item.last_success.strftime("%Y-%m-%d %H:%M:%S") if item.last_success else "never"
        last_run = item.last_state or "-"
        if item.last_error:
            last_run = f"{last_run}: {item.last_error[:60]}"
        listing.add_row(item.schema_id, str(counts["staged"]), str(counts["synced"]), str(counts["skipped"]),
                        str(counts["failed"]), human_age(item.lag_seconds) if counts["staged"] else "-",
                        last_success, last_run)
    show(listing)


def register(app: typer.Typer) -> None:
    """Attach the foundation commands to `app`."""
    app.command("init")(init)
    app.add_typer(schema_app, name="schema")
    app.command("ingest")(ingest)
    app.command("status")(status)
