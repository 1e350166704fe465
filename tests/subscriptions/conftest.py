"""Fixtures for subscription tests: a staging database with services, a DuckDB warehouse, and a sync helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.subscriptions import services
from ferry.sync.workflow import RunResult, run_once
from ferry.warehouse import Warehouse, open_warehouse


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The DuckDB warehouse file of `settings`."""
    wh = open_warehouse(settings.effective_warehouse_url)
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def news(staging_db: StagingDatabase) -> StagingDatabase:
    """Staging with services `news` (email) and `sms_alerts` (sms, 30 days)."""
    services.add(staging_db.pool, "news", label="Newsletter", channel="email")
    services.add(staging_db.pool, "sms_alerts", label="SMS alerts", channel="sms", validity_days=30)
    return staging_db


@pytest.fixture
def sync(settings: Settings) -> Callable[[StagingDatabase, Warehouse], RunResult]:
    """Run `ffdaReplicateStagingData` for nms:subscription now; asserts the run succeeded."""

    def run(db: StagingDatabase, wh: Warehouse) -> RunResult:
        result = run_once(db, wh, "nms:subscription", settings, wait=True)
        assert result.state == "succeeded", result.error
        return result

    return run


def rows(wh: Warehouse, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """A warehouse query (DuckDB `?` placeholders)."""
    return wh.select(sql, params or [])
