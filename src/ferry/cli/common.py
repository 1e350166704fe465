"""What every command shares: options, opening staging, printing errors as codes and messages."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ferry.config import Settings
from ferry.errors import FerryError
from ferry.locations import announce
from ferry.staging.database import StagingDatabase

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (embedded PostgreSQL, DuckDB warehouse). Default: FERRY_DATA_DIR, "
                 "else data_dir of the nearest ferry.toml up from here, else ~/.local/share/ferry.",
                 show_default=False, metavar="FOLDER"),
]


AsJson = Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table (for scripts).")]


class Listing(Table):
    """A table that keeps its rows as text too, for `show`."""

    def __init__(self, *headers: str, title: str | None = None) -> None:
        super().__init__(title=title)
        self.headers = list(headers)
        self.text_rows: list[list[str]] = []
        for header in headers:
            self.add_column(header, overflow="fold")

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        """See Table.add_row; the cells' text (markup removed) is kept for plain output."""
        super().add_row(*cells, **kwargs)
        self.text_rows.append([Text.from_markup(c).plain if isinstance(c, str) else str(c or "") for c in cells])


def table(*headers: str, title: str | None = None) -> Listing:
    """A table whose cells fold onto several lines to fit the terminal, never cut to `ffd…`."""
    return Listing(*headers, title=title)


# A column narrower than this (or its header) folds its values into slivers nobody can read.
_READABLE_CELL = 12


def show(listing: Listing) -> None:
    """A table on a terminal wide enough for it; one block of `header: value` lines per row on a narrower one;
    tab-separated full rows (a header line first) when the output is not a terminal (a pipe, a file)."""
    if not console.is_terminal:
        for row in [listing.headers, *listing.text_rows]:
            typer.echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
        return
    widths = [max([len(h), *(min(len(row[i]), _READABLE_CELL) for row in listing.text_rows)])
              for i, h in enumerate(listing.headers)]
    if sum(widths) + 3 * len(widths) + 1 <= console.width:
        console.print(listing)
        return
    if listing.title:
        console.print(f"[bold]{listing.title}[/]")
    label = max(len(h) for h in listing.headers)
    for number, row in enumerate(listing.text_rows):
        if number:
            console.print()
        for header, cell in zip(listing.headers, row, strict=True):
            console.print(f"[bold]{header.ljust(label)}[/] {escape(cell)}")


def _plain_json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(rows: Sequence[dict[str, Any]]) -> None:
    """One JSON array on stdout: dates in ISO 8601, UUIDs as text."""
    typer.echo(json.dumps(list(rows), default=_plain_json, indent=2))


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment and the config file, with command-line flags on top."""
    try:
        settings = Settings.from_env(data_dir=data_dir, **overrides)
    except FerryError as exc:
        fail(exc)
    announce(settings)
    return settings


def fail(exc: FerryError) -> NoReturn:
    """Print a FerryError the way a person reads it and exit non-zero."""
    err_console.print(f"[bold red]{exc.code.code}[/] {exc.message}")
    if exc.detail:
        err_console.print(exc.detail)
    sys.exit(1)


@contextmanager
def open_staging(settings: Settings) -> Iterator[StagingDatabase]:
    """Open staging for a command; FerryErrors become a message and exit code 1."""
    try:
        db = StagingDatabase.open(settings)
    except FerryError as exc:
        fail(exc)
    try:
        yield db
    except FerryError as exc:
        fail(exc)
    finally:
        db.close()


def plural(count: int, word: str) -> str:
    """`record` or `records`, as `count` asks."""
    return word if count == 1 else word + "s"


def human_age(seconds: float) -> str:
    """`3h 02m`, `45s`: a short age for tables."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24:02d}h"
