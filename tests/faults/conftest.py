"""Fault tests: each starts its own PostgreSQL servers (never the machine's shared one)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fault_harness import PgServer, new_root


@pytest.fixture
def pg_servers() -> Iterator[Callable[[str], PgServer]]:
    """`make(name)`: a new, started private PostgreSQL; all are stopped and removed after the test."""
    made: list[PgServer] = []

    def make(name: str) -> PgServer:
        server = PgServer(new_root(name))
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.destroy()
