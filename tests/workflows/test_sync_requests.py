"""Sync requests left in staging for a running server's scheduler."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import pytest

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.staging import StagingDatabase
from ferry.workflows import Scheduler
from ferry.workflows.requests import cancel_request, request_state, request_sync, take_requests


def test_a_request_is_taken_once_with_the_runs_it_started(staging_db: StagingDatabase) -> None:
    run = uuid.uuid4()
    asked: list[str | None] = []

    def trigger(schema_id: str | None) -> list[uuid.UUID]:
        asked.append(schema_id)
        return [run]

    request_id = request_sync(staging_db.pool, "nms:recipient", "test")
    assert request_state(staging_db.pool, request_id) == request_state(staging_db.pool, request_id)
    assert take_requests(staging_db.pool, trigger) == 1
    assert take_requests(staging_db.pool, trigger) == 0
    state = request_state(staging_db.pool, request_id)
    assert state is not None and state.taken and state.run_ids == [run] and state.error is None
    assert asked == ["nms:recipient"]
    assert not cancel_request(staging_db.pool, request_id)


def test_a_refused_request_records_why(staging_db: StagingDatabase) -> None:
    def trigger(schema_id: str | None) -> list[uuid.UUID]:
        raise FerryError(errors.UNKNOWN_SCHEMA, f"schema {schema_id!r} is not known")

    request_id = request_sync(staging_db.pool, "nms:nothere")
    take_requests(staging_db.pool, trigger)
    state = request_state(staging_db.pool, request_id)
    assert state is not None and state.taken and state.run_ids == []
    assert state.error is not None and state.error.startswith("FRY-100003")


def test_an_untaken_request_can_be_withdrawn(staging_db: StagingDatabase) -> None:
    request_id = request_sync(staging_db.pool, None)
    assert cancel_request(staging_db.pool, request_id)
    assert request_state(staging_db.pool, request_id) is None


def test_requests_are_taken_while_a_scheduled_sync_runs(staging_db: StagingDatabase, settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A `ferry sync` relayed to `ferry serve` is taken even while the scheduler's own pass is still syncing."""
    release = threading.Event()
    started = threading.Event()

    def slow_run(_self: Scheduler, _schema_id: str, _run_id: uuid.UUID, _record_idle: bool = True) -> None:
        started.set()
        release.wait(30)

    monkeypatch.setattr(Scheduler, "_run", slow_run)
    scheduler = Scheduler(staging_db, None, dataclasses.replace(settings, sync_interval=3600))  # type: ignore[arg-type]
    scheduler.start()
    try:
        assert started.wait(10), "the scheduled pass did not start"
        request_id = request_sync(staging_db.pool, "nms:recipient", "test")
        deadline = time.monotonic() + 10
        while not (state := request_state(staging_db.pool, request_id)) or not state.taken:
            assert time.monotonic() < deadline, "the request waited for the scheduled pass to end"
            time.sleep(0.1)
        assert not release.is_set()
    finally:
        release.set()
        scheduler.stop()
