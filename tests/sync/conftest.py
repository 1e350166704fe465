"""Fixtures of the sync tests: one staging database and one DuckDB and one PostgreSQL warehouse per module."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.warehouse import Warehouse, open_warehouse

sys.path.insert(0, str(Path(__file__).parent))
from sync_helpers import open_staging, pg_url


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the whole module."""
    return tmp_path_factory.mktemp("sync")


@pytest.fixture(scope="module")
def staging(new_database: Callable[[], str], module_dir: Path) -> Iterator[tuple[StagingDatabase, Settings]]:
    """One staging database for the module (tests reset it)."""
    db, settings = open_staging(new_database(), module_dir / "data")
    yield db, settings
    db.close()


@pytest.fixture(scope="module")
def warehouses(new_database: Callable[[], str], module_dir: Path) -> Iterator[dict[str, Warehouse]]:
    """One DuckDB and one PostgreSQL warehouse for the module."""
    made = {
        "duckdb": open_warehouse(f"duckdb:///{module_dir / 'warehouse.duckdb'}"),
        "postgresql": open_warehouse(pg_url(new_database())),
    }
    yield made
    for warehouse in made.values():
        warehouse.close()

