"""`ferry doctor tables`: schemas that share one staging and warehouse table, from before ferry refused them.

`cs:b_c` and `cs_b:c` (or `DEM:x` and `dem:x`) once mapped to one table, so each read and wrote the other's rows.
`ferry schema apply` now refuses such a schema; an installation that already holds a pair is reported here (exit 1),
never merged silently: move one schema's data to a schema with another name, then remove the old one.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ferry.cli.common import DataDir, console, open_staging, settings_for, table


def tables_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print each shared table as a JSON line.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List tables that several applied schemas share (each reads and writes the other's rows); exit 1 if any."""
    with open_staging(settings_for(data_dir)) as db:
        shared = db.catalog.shared_tables()
    if as_json:
        for name, schema_ids in shared.items():
            typer.echo(json.dumps({"table": name, "schemas": schema_ids}))
    elif shared:
        listing = table("Table", "Schemas", title="Tables shared by several schemas")
        for name, schema_ids in shared.items():
            listing.add_row(name, ", ".join(schema_ids))
        console.print(listing)
        console.print("Each schema of a row reads and writes the others' records: keep one, and move the others' "
                      "data to schemas whose names differ by more than case or the place of '_' and ':'.")
    else:
        console.print("No table is shared by two schemas.")
    if shared:
        raise typer.Exit(1)


def register(doctor_app: typer.Typer) -> None:
    """Attach `ferry doctor tables` to the `doctor` group."""
    doctor_app.command("tables")(tables_command)
