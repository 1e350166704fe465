"""`ferry init`, `ferry schema apply|list`, `ferry ingest`, `ferry status`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the foundation commands to `app`."""
