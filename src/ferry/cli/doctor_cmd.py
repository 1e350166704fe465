"""`ferry doctor unicity [SCHEMA]`: keys held by several warehouse records, like Campaign's `ffdaUnicity` workflow.

Warehouses that enforce no unique key (Snowflake above all) can hold duplicates written by other tools. For each
staged schema the primary key (`@id`) and every declared `<key>` are checked; findings are listed with the columns
of Campaign's Audit Unicity table. Exit codes (for schedulers and alerting): 0 no duplicated key, 1 some key is
duplicated, 2 the check could not run (bad usage, staging or the warehouse unavailable). While a running `ferry
serve` holds the DuckDB warehouse file, the check's queries run in that server (through its owner socket).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ferry import errors
from ferry.cli.common import DataDir, console, fail, open_staging, settings_for, show, table
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.schema.types import to_text
from ferry.warehouse import Warehouse, open_warehouse
from ferry.warehouse.owner_file import find as find_owner
from ferry.warehouse.remote import RemoteWarehouse
from ferry.warehouse.tables import quote, table_name

doctor_app = typer.Typer(help="Health checks of the warehouse.", no_args_is_help=True)

Duplicates = list[tuple[tuple[Any, ...], int]]

DUPLICATES_FOUND = 1  # exit codes of `ferry doctor unicity` (documented in docs/operations.md)
CANNOT_RUN = 2


@dataclass(frozen=True)
class Finding:
    """One duplicated key value (a row of Campaign's Audit Unicity table)."""

    schema_id: str
    key_definition: str
    key_type: str
    value: str
    count: int

    def view(self) -> dict[str, Any]:
        """The `--json` form, in the REST / CLI camelCase vocabulary (`schema` as in `GET /api/v1/status`)."""
        return {"schema": self.schema_id, "keyDefinition": self.key_definition, "keyType": self.key_type,
                "value": self.value, "count": self.count}


def checked_keys(schema: Schema) -> list[tuple[str, tuple[str, ...]]]:
    """(key type, fields) to check: the primary key `@id` when the schema has one, then each declared key."""
    keys: list[tuple[str, tuple[str, ...]]] = []
    if schema.attribute(ID_ATTRIBUTE) is not None:
        keys.append(("Primary Key", (ID_ATTRIBUTE,)))
    for key in schema.keys:
        if tuple(key.fields) not in [fields for _, fields in keys]:
            keys.append((f"Key {key.name}" if key.name else "Key", tuple(key.fields)))
    return keys


def find_duplicates(warehouse: Warehouse, schema: Schema, key: Sequence[str]) -> Duplicates:
    """Key values held by more than one record, most duplicated first: the adapter's `duplicates` when it has one,
    else SQL on DuckDB / PostgreSQL, else (any other engine) a count over `read`."""
    finder = getattr(warehouse, "duplicates", None)
    if callable(finder):
        found: Duplicates = finder(schema, key)
        return found
    if isinstance(warehouse, RemoteWarehouse):
        return _relayed_duplicates(warehouse, schema, key)
    scheme = warehouse.url.split("://", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return _postgres_duplicates(warehouse.url, schema, key)
    if scheme == "duckdb" and not warehouse.url.endswith(":memory:"):
        return _duckdb_duplicates(warehouse.url, schema, key)
    counts = Counter(tuple(record.get(k) for k in key) for record in warehouse.read(schema))
    found = [(v, n) for v, n in counts.items() if n > 1 and None not in v]
    return sorted(found, key=lambda item: (-item[1], repr(item[0])))


def _duplicates_sql(schema: Schema, key: Sequence[str]) -> str:
    cols = ", ".join(quote(k) for k in key)
    not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
    return (f"SELECT {cols}, count(*) AS n FROM {quote(table_name(schema))} WHERE {not_null} "  # noqa: S608
            f"GROUP BY {cols} HAVING count(*) > 1 ORDER BY n DESC, {cols}")


def _postgres_duplicates(url: str, schema: Schema, key: Sequence[str]) -> Duplicates:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (quote(table_name(schema)),)).fetchone()
        if row is None or row[0] is None:
            return []
        rows = conn.execute(_duplicates_sql(schema, key).encode()).fetchall()
    return [(tuple(r[:-1]), int(r[-1])) for r in rows]


def _duckdb_duplicates(url: str, schema: Schema, key: Sequence[str]) -> Duplicates:
    import duckdb

    # Same file, same (default) configuration: DuckDB shares the open warehouse's database instance.
    con = duckdb.connect(url.split("://", 1)[1])
    try:
        have = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                           [table_name(schema)]).fetchone()
        if not have or not have[0]:
            return []
        rows = con.execute(_duplicates_sql(schema, key)).fetchall()
    finally:
        con.close()
    return [(tuple(r[:-1]), int(r[-1])) for r in rows]


def _relayed_duplicates(warehouse: RemoteWarehouse, schema: Schema, key: Sequence[str]) -> Duplicates:
    """The DuckDB queries, run by the server that holds the file."""
    have = warehouse.select("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table_name(schema)])
    if not have or not have[0][0]:
        return []
    return [(tuple(r[:-1]), int(r[-1])) for r in warehouse.select(_duplicates_sql(schema, key), [])]


def _open(settings: Settings) -> Warehouse:
    """The warehouse, or the running server's view of it when that server holds the DuckDB file."""
    try:
        return open_warehouse(settings.effective_warehouse_url)
    except FerryError as exc:
        link = find_owner(settings.data_dir) if "lock" in exc.message.lower() else None
        if link is None:
            raise
        return RemoteWarehouse(settings.effective_warehouse_url, link, read_timeout=settings.warehouse_read_timeout)


@contextmanager
def _cannot_run_exits_2() -> Iterator[None]:
    """Every failure to run the check (printed by `fail`, exit 1) exits 2 instead: 1 means duplicates found."""
    try:
        yield
    except SystemExit as exc:
        if exc.code == 1:
            raise SystemExit(CANNOT_RUN) from None
        raise


def unicity(warehouse: Warehouse, schemas: Sequence[Schema]) -> list[Finding]:
    """Every duplicated key value of the schemas' warehouse tables."""
    findings: list[Finding] = []
    for schema in schemas:
        for key_type, fields in checked_keys(schema):
            for values, count in find_duplicates(warehouse, schema, fields):
                text = ", ".join(_text(schema, name, value) for name, value in zip(fields, values, strict=True))
                findings.append(Finding(schema.id, ",".join("@" + f for f in fields), key_type, text, count))
    return findings


def _text(schema: Schema, name: str, value: Any) -> str:
    attr = schema.attribute(name)
    return to_text(attr.type, value) if attr is not None else str(value)


def unicity_command(
    schema: Annotated[str | None, typer.Argument(help="Staged schema (e.g. nms:recipient); default: all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON lines.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List keys held by several records in the warehouse (Campaign's Audit Unicity).

    Exit 0 when no key is duplicated, 1 when some is, 2 when the check could not run.
    """
    with _cannot_run_exits_2():
        findings, schemas = _check(schema, data_dir)
    if as_json:
        for finding in findings:
            typer.echo(json.dumps(finding.view()))
    elif findings:
        listing = table("Schema Id", "Key Definition", "Key Type", "Duplicated Value", "Duplicated Count",
                        title="Duplicated keys in the warehouse")
        for f in findings:
            listing.add_row(f.schema_id, f.key_definition, f.key_type, f.value, str(f.count))
        show(listing)
    else:
        console.print(f"No duplicated key in {len(schemas)} schema(s).")
    if findings:
        raise typer.Exit(DUPLICATES_FOUND)


def _check(schema: str | None, data_dir: Path | None) -> tuple[list[Finding], list[Schema]]:
    settings = settings_for(data_dir)
    with open_staging(settings) as db:
        db.reload_schemas()
        try:
            schemas = [db.registry.resolve_staged(schema)] if schema else list(db.registry.staged())
            warehouse = _open(settings)
        except FerryError as exc:
            fail(exc)
        try:
            findings = unicity(warehouse, schemas)
        except FerryError as exc:
            fail(exc)
        except Exception as exc:
            fail(FerryError(errors.WAREHOUSE_UNAVAILABLE, f"unicity check failed: {type(exc).__name__}: {exc}"))
        finally:
            warehouse.close()
    return findings, schemas


def register(app: typer.Typer) -> None:
    """Attach `ferry doctor …` to `app`."""
    doctor_app.command("unicity")(unicity_command)
    app.add_typer(doctor_app, name="doctor")
