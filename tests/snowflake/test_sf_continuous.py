"""Continuous sync (FERRY_SYNC_INTERVAL=0) into Snowflake (fakesnow): staged rows are synced with no trigger call."""

from __future__ import annotations

import dataclasses
import time

from ferry.config import Settings
from ferry.ingest import Method, RawRecord, build_call
from ferry.staging import StagingDatabase
from ferry.warehouse import open_warehouse
from ferry.workflows import Scheduler


def test_staged_rows_reach_snowflake_without_a_trigger(staging_db: StagingDatabase, settings: Settings,
                                                       snowflake_url: str) -> None:
    warehouse = open_warehouse(snowflake_url)
    scheduler = Scheduler(staging_db, warehouse, dataclasses.replace(settings, sync_interval=0))
    scheduler.poll_seconds = 3600.0  # only the NOTIFY can wake it
    scheduler.start()
    try:
        listener = scheduler.listener
        assert listener is not None
        deadline = time.monotonic() + 30
        while listener.connections < 1:
            assert time.monotonic() < deadline, "never listened"
            time.sleep(0.05)
        raw = [RawRecord(i + 1, "nms:recipient", {"email": f"sf{i}@x.test"}, None, None) for i in range(3)]
        staging_db.store.stage([build_call(staging_db.registry, Method.INGEST, raw)])
        deadline = time.monotonic() + 60
        while next(s.counts.get("staged", 0) for s in staging_db.store.status() if s.schema_id == "nms:recipient"):
            assert time.monotonic() < deadline, "the staged rows never reached Snowflake"
            time.sleep(0.1)
    finally:
        scheduler.stop()
        schema = staging_db.registry.get("nms:recipient")
        assert schema is not None
        emails = {row["email"] for row in warehouse.read(schema)}
        warehouse.close()
    assert {f"sf{i}@x.test" for i in range(3)} <= emails
