"""Fixtures of the workflow-script tests: one staging database per module, with `dem:sampleTable` applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.staging import StagingDatabase
from ferry.subscriptions import services
from script_bench import SAMPLE_SCHEMA, ScriptBench


@pytest.fixture(scope="module")
def bench(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptBench]:
    """The module's staging database (sample schema applied, service `news`) and warehouse file."""
    folder = tmp_path_factory.mktemp("scripts")
    settings = Settings.from_env(database_url=new_database(), data_dir=folder / "ferry-data",
                                 warehouse_url=f"duckdb:///{folder / 'warehouse.duckdb'}")
    with StagingDatabase.open(settings) as db:
        db.catalog.apply(load_schema_file(SAMPLE_SCHEMA))
        db.reload_schemas()
        services.add(db.pool, "news", label="Newsletter", channel="email")
        state = ScriptBench(settings, db, [])
        try:
            yield state
        finally:
            for warehouse in state.opened:
                warehouse.close()
