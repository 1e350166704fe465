"""`ffdaReplicateStagingData`: replicate one staged schema into the warehouse, batch by batch, exactly once."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.staging.database import StagingDatabase
from ferry.sync import batches, runs
from ferry.sync.faults import crash_point
from ferry.sync.marker import Marker
from ferry.warehouse.base import COUNT_NAMES, BatchOutcome, Warehouse

log = logging.getLogger(__name__)

WORKFLOW = "ffdaReplicateStagingData"
PURGE_WORKFLOW = "ferryPurgeStagingData"

# Outage retries inside one run: 0.5 s, 1 s, 2 s, 4 s, then the run ends in error (rows stay staged).
RETRIES = 4
BACKOFF = 0.5

_T = TypeVar("_T")
Progress = Callable[["RunResult"], None]

# Staged schemas whose rows are requests applied by their own code instead of the fold/MERGE: schema id →
# "module:attribute" of an object with `prepare(db, warehouse, schema)` (once per run, instead of ensure_table)
# and `apply(db, warehouse, schema, batch_id, rows, hook) -> BatchOutcome` (one transaction, ledger included).
APPLIERS: dict[str, str] = {"nms:subscription": "ferry.subscriptions.applier:APPLIER"}


def custom_applier(schema_id: str) -> Any | None:
    """The applier registered for `schema_id` in `APPLIERS`, or None for the generic sync."""
    target = APPLIERS.get(schema_id)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass
class RunResult:
    """One run of the workflow for one schema: its state, counts per outcome and error."""

    run_id: uuid.UUID
    schema_id: str | None
    workflow: str = WORKFLOW
    state: str = "running"
    batches: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    error: str | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended_at: dt.datetime | None = None

    def add(self, outcome: BatchOutcome) -> None:
        """Count one applied batch."""
        self.batches += 1
        for name, value in outcome.counts.items():
            self.counts[name] = self.counts.get(name, 0) + int(value)


def run_once(db: StagingDatabase, warehouse: Warehouse, schema_id: str, settings: Settings, *,
             run_id: uuid.UUID | None = None, wait: bool = False, progress: Progress | None = None,
             retries: int = RETRIES, backoff: float = BACKOFF) -> RunResult:
    """Sync every row staged for `schema_id` now: resume unmarked batches, then claim, apply, mark until done.

    Returns state `skipped` when another worker holds the schema (unless `wait`), `failed` with the error when
    the warehouse stayed unreachable (the rows stay `staged`), else `succeeded`. Every run is recorded.
    """
    schema = db.registry.get(schema_id)
    if schema is None or not schema.staged:
        db.reload_schemas()
        schema = db.registry.get(schema_id)
    if schema is None or not schema.staged:
        raise FerryError(errors.SYNC_UNKNOWN_SCHEMA, f"{schema_id} is not a staged schema")
    result = RunResult(run_id or uuid.uuid4(), schema.id)
    runs.start(db.pool, result)
    try:
        with batches.schema_lock(db.pool, schema.id, wait=wait) as locked:
            if not locked:
                result.state = "skipped"
                result.error = "another worker is syncing this schema"
            else:
                _sync(db, warehouse, schema, settings, result, progress, retries, backoff)
                result.state = "succeeded"
    except FerryError as exc:
        result.state, result.error = "failed", exc.text
        log.warning("%s %s: %s", WORKFLOW, schema.id, exc.text)
    except Exception as exc:
        result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("%s %s failed", WORKFLOW, schema.id)
    finally:
        result.ended_at = dt.datetime.now(dt.UTC)
        runs.finish(db.pool, result)
    return result


def _sync(db: StagingDatabase, warehouse: Warehouse, schema: Schema, settings: Settings, result: RunResult,
          progress: Progress | None, retries: int, backoff: float) -> None:
    applier = custom_applier(schema.id)
    if applier is not None:
        _retrying(lambda: applier.prepare(db, warehouse, schema), retries, backoff)
    else:
        _retrying(lambda: warehouse.ensure_table(schema), retries, backoff)
    reader = batches.BatchReader(db.url)
    marker = Marker(db.pool, schema)

    def marked(outcome: BatchOutcome) -> None:
        crash_point("after_mark")
        result.add(outcome)
        if progress:
            progress(result)

    try:
        for claimed in batches.pending_batches(db.pool, schema):
            batch_id = str(claimed.batch_id)
            done = _retrying(lambda: warehouse.batch_applied(batch_id), retries, backoff)  # noqa: B023
            if done is None:
                done = _apply(reader, warehouse, schema, claimed, retries, backoff, (db, applier))
            crash_point("before_mark")
            marker.submit(claimed, done, marked)
        high = batches.high_water(db.pool, schema)
        while True:
            # The previous batch's mark runs meanwhile: its rows carry a batch id, so this claim skips them.
            got = reader.claim(schema, settings.batch_rows, settings.batch_bytes, high)
            if got is None:
                break
            claimed_next, rows = got
            crash_point("after_claim")
            outcome = _apply(reader, warehouse, schema, claimed_next, retries, backoff, (db, applier), rows)
            crash_point("before_mark")
            marker.submit(claimed_next, outcome, marked)
        marker.wait()
    finally:
        marker.close()
        reader.close()


def _apply(reader: batches.BatchReader, warehouse: Warehouse, schema: Schema, claimed: batches.Claimed,
           retries: int, backoff: float, custom: tuple[StagingDatabase, Any] | None = None,
           rows: pa.Table | None = None) -> BatchOutcome:
    if rows is None:
        rows = reader.read(schema, claimed)

    def attempt() -> BatchOutcome:
        # After an outage the commit may have happened before the connection broke: ask the ledger first.
        done = warehouse.batch_applied(str(claimed.batch_id))
        if done is not None:
            return done
        if custom is not None and custom[1] is not None:
            result: BatchOutcome = custom[1].apply(custom[0], warehouse, schema, str(claimed.batch_id), rows,
                                                   crash_point)
            return result
        return warehouse.apply_batch(schema, str(claimed.batch_id), rows, hook=crash_point)

    return _retrying(attempt, retries, backoff)


def _retrying(action: Callable[[], _T], retries: int, backoff: float) -> _T:
    delay = backoff
    for attempt in range(retries + 1):
        try:
            return action()
        except FerryError as exc:
            if exc.code is not errors.WAREHOUSE_UNAVAILABLE or attempt == retries:
                raise
            log.warning("warehouse unavailable, retrying in %.1fs: %s", delay, exc.message)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def purge(db: StagingDatabase, settings: Settings) -> RunResult:
    """Delete synced and skipped rows older than `settings.retention_days` in every staged schema; recorded."""
    result = RunResult(uuid.uuid4(), None, workflow=PURGE_WORKFLOW)
    runs.start(db.pool, result)
    purged = 0
    try:
        with db.pool.connection() as conn:
            for schema in db.registry.staged():
                purged += batches.purge(conn, schema, settings.retention_days)
        result.state = "succeeded"
    except Exception as exc:
        result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("%s failed", PURGE_WORKFLOW)
    finally:
        result.counts["purged"] = purged
        result.ended_at = dt.datetime.now(dt.UTC)
        runs.finish(db.pool, result)
    return result
