"""`ferry backup DIR` and `ferry restore DIR [--force]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ferry.backup import backup, restore
from ferry.cli.common import DataDir, console, fail, open_staging, settings_for
from ferry.errors import FerryError
from ferry.staging.embedded import EmbeddedPostgres
from ferry.warehouse import open_warehouse
from ferry.warehouse.owner_file import find as find_owner
from ferry.warehouse.remote import RemoteWarehouse


def backup_command(
    folder: Annotated[Path, typer.Argument(help="A new or empty folder to write the backup into.",
                                           file_okay=False)],
    data_dir: DataDir = None,
) -> None:
    """Back up staging and the warehouse together, online: syncs pause while both are saved (calls go on)."""
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        try:
            warehouse = open_warehouse(settings.effective_warehouse_url)
        except FerryError as exc:
            # A running `ferry serve` holds the DuckDB file: it copies the file for us (its owner socket).
            link = find_owner(settings.data_dir) if "lock" in exc.message.lower() else None
            if link is None:
                fail(exc)
            warehouse = RemoteWarehouse(settings.effective_warehouse_url, link)
        try:
            with console.status("backing up (syncs wait until it is done)"):
                manifest = backup(db, warehouse, folder)
        except FerryError as exc:
            fail(exc)
        finally:
            warehouse.close()
    console.print(f"backed up staging and the {manifest.warehouse_engine} warehouse into {folder} "
                  f"(format {manifest.format_version}, {len(manifest.schemas)} staged schemas)")


def restore_command(
    folder: Annotated[Path, typer.Argument(help="A folder written by `ferry backup`.", exists=True, file_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace what the target staging database and warehouse "
                                        "already hold.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup into the configured databases, or the data folder's embedded ones; ferry must be stopped."""
    from ferry.server.process.pidfile import PidFile

    settings = settings_for(data_dir)
    lock = PidFile(settings.data_dir)  # no server may start on this data folder during the restore
    embedded: EmbeddedPostgres | None = None
    try:
        lock.acquire()
        if settings.database_url:
            staging_url = settings.database_url
        else:
            embedded = EmbeddedPostgres(settings.data_dir)
            staging_url = embedded.start("ferry")
        with console.status("restoring"):
            done = restore(folder, staging_url, settings.effective_warehouse_url, force=force)
    except FerryError as exc:
        fail(exc)
    finally:
        if embedded is not None:
            embedded.stop()
        lock.release()
    moved = "; staging now feeds the restored warehouse" if done.identity_moved else ""
    console.print(f"restored the backup of {done.manifest.created_at} (format {done.manifest.format_version}) into "
                  f"staging and the {done.manifest.warehouse_engine} warehouse{moved}")


def register(app: typer.Typer) -> None:
    """Attach `backup` and `restore` to `app`."""
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
