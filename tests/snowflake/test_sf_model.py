"""Model-based test of the sync into Snowflake (fakesnow server, real connector over HTTP).

Random Ingest / IngestExt streams (the sync tests' strategy), syncs at random points with random batch sizes: the
warehouse and every row's final state equal the sequential model, where an operation on a key several records
hold fails. FERRY_SNOWFLAKE_EXAMPLES sets the number of examples (default 12: every sync is many HTTP round trips).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sf_helpers import check_stream
from sync_helpers import open_staging
from test_model import steps  # the sync tests' strategy (tests/sync/test_model.py)

from ferry.config import Settings
from ferry.ingest import Method
from ferry.staging import StagingDatabase
from ferry.warehouse import Warehouse, open_warehouse

EXAMPLES = int(os.environ.get("FERRY_SNOWFLAKE_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def staging(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[StagingDatabase, Settings]]:
    """One staging database for the module (each check resets it)."""
    db, base = open_staging(new_database(), tmp_path_factory.mktemp("sf") / "data")
    yield db, base
    db.close()


@pytest.fixture(scope="module")
def warehouse(new_snowflake_url: Callable[[], str]) -> Iterator[Warehouse]:
    """One Snowflake warehouse (a fresh schema) for the module."""
    made = open_warehouse(new_snowflake_url())
    yield made
    made.close()


def test_sync_equals_sequential_model(staging: tuple[StagingDatabase, Settings], warehouse: Warehouse) -> None:
    db, base = staging

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plan=steps())
    def run(plan: list[tuple[str, Any]]) -> None:
        check_stream(db, base, warehouse, plan)

    run()


def test_known_interleavings(staging: tuple[StagingDatabase, Settings], warehouse: Warehouse) -> None:
    """Duplicates made by keyless inserts then keyed rows on them, delete-then-insert, insert-then-delete."""
    db, base = staging
    ingest, ext = Method.INGEST, Method.INGEST_EXT
    plan: list[tuple[str, Any]] = [
        ("call", (ingest, [({"email": "e1", "note": "a"}, None, None), ({"email": "e1"}, None, None)])),
        ("call", (ext, [({"email": "e1", "a": "x"}, "@email", None), ({"email": "e1"}, "@email", "delete")])),
        ("call", (ingest, [({"email": "e1", "b": "3"}, "@email", None)])),
        ("call", (ext, [({"email": "e2", "a": "y", "b": "1"}, "@email", "insert"),
                        ({"email": "e2"}, "@email", "delete"), ({"email": "e2", "n": ""}, "@email", None)])),
        ("call", (ingest, [({"email": "e2", "seen": "2024-01-02T03:04:05Z"}, None, None)])),
        ("call", (ext, [({"email": "e2", "flag": "true"}, "@email", "update")])),
        ("call", (ext, [({"a": "x", "b": "2", "note": ""}, "@a,@b", "insertOrUpdate"),
                        ({"a": "x", "b": "2"}, "@a,@b", "delete"), ({"a": "x", "b": "2"}, "@a,@b", "update")])),
    ]
    for size in (1, 2, 1000):
        check_stream(db, base, warehouse, [*plan[:3], ("sync", size), *plan[3:], ("sync", size)])


def test_warehouse_url_points_at_the_server(warehouse: Warehouse) -> None:
    """The adapter hides the password and talks to fakesnow through host/port/protocol from the URL."""
    assert warehouse.url.startswith("snowflake://fake@fakesnow/FERRY/T_")
    assert "snow@" not in warehouse.url

