"""`ffdaReplicateStagingData`: replicate one staged schema into the warehouse, batch by batch, exactly once."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.logs import log_context
from ferry.schema.model import Schema
from ferry.staging import horizon, outcomes, partitions, upgrade
from ferry.staging.database import StagingDatabase
from ferry.sync import batches, retention, runs
from ferry.sync.faults import crash_point
from ferry.warehouse.base import COUNT_NAMES, BatchOutcome, Span, Warehouse

log = logging.getLogger(__name__)

WORKFLOW = "ffdaReplicateStagingData"
PURGE_WORKFLOW = "ferryPurgeStagingData"

# Outage retries inside one run: 0.5 s, 1 s, 2 s, 4 s, then the run ends in error (rows stay staged).
RETRIES = 4
BACKOFF = 0.5

# With FERRY_BATCH_ROWS of at least FIRST_BATCH_FROM, a run's first batch holds at most 1/FIRST_BATCH_SHARE of it.
FIRST_BATCH_SHARE = 5
FIRST_BATCH_FROM = 50_000

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

    @property
    def idle(self) -> bool:
        """True for a run that did nothing: skipped (another worker held the schema) or succeeded reading no row."""
        return self.state == "skipped" or (self.state == "succeeded" and self.batches == 0
                                           and not self.counts.get("read"))

    def add(self, outcome: BatchOutcome) -> None:
        """Count one applied batch."""
        self.batches += 1
        for name, value in outcome.counts.items():
            self.counts[name] = self.counts.get(name, 0) + int(value)


def run_once(db: StagingDatabase, warehouse: Warehouse, schema_id: str, settings: Settings, *,
             run_id: uuid.UUID | None = None, wait: bool = False, progress: Progress | None = None,
             retries: int = RETRIES, backoff: float = BACKOFF, record_idle: bool = True) -> RunResult:
    """Sync every row staged for `schema_id` now: record batches the ledger has and staging lacks, then read,
    apply and record batches up to the horizon proven at the start.

    Returns state `skipped` when another worker holds the schema (unless `wait`), `failed` with the error when
    the warehouse stayed unreachable (the rows stay `staged`), else `succeeded`. Every run is recorded, except,
    when not `record_idle` (the scheduler's own runs), one that did nothing: only counted (`runs.idle_counts`).
    """
    schema = db.registry.get(schema_id)
    if schema is None or not schema.staged:
        db.reload_schemas()
        schema = db.registry.get(schema_id)
    if schema is None or not schema.staged:
        raise FerryError(errors.SYNC_UNKNOWN_SCHEMA, f"{schema_id} is not a staged schema")
    result = RunResult(run_id or uuid.uuid4(), schema.id)
    batches.readers(db).warm()  # the read's connection opens while the run's bookkeeping goes on
    with log_context(schema=schema.id, run_id=result.run_id):
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
            if result.state == "failed":
                _ensured.pop(warehouse, None)  # the table may be what failed: ensure it again next time
            result.ended_at = dt.datetime.now(dt.UTC)
            runs.finish(db.pool, result, keep=record_idle or not result.idle)
    return result


# The schema object each warehouse object last ensured a table for (forgotten after a failed run).
_ensured: weakref.WeakKeyDictionary[Warehouse, dict[str, Schema]] = weakref.WeakKeyDictionary()


def _sync(db: StagingDatabase, warehouse: Warehouse, schema: Schema, settings: Settings, result: RunResult,
          progress: Progress | None, retries: int, backoff: float) -> None:
    applier = custom_applier(schema.id)
    if applier is not None:
        _retrying(lambda: applier.prepare(db, warehouse, schema), retries, backoff)
    elif _ensured.get(warehouse, {}).get(schema.id) is not schema:
        # Once per schema version and warehouse object: ensure_table costs catalog round trips on every run.
        _retrying(lambda: warehouse.ensure_table(schema), retries, backoff)
        _ensured.setdefault(warehouse, {})[schema.id] = schema
    with db.pool.connection() as conn:
        identity, applied, has_legacy = outcomes.run_state(conn, schema.id)

    def done(batch_first: int, batch_last: int, batch: str, outcome: BatchOutcome) -> None:
        crash_point("before_copy")
        with db.pool.connection() as conn:
            outcomes.record_batch(conn, schema, batch_first, batch_last, batch, int(outcome.counts.get("read", 0)),
                                  outcome.skipped, outcome.failed, outcome.uuids)
        crash_point("after_copy")
        result.add(outcome)
        if progress:
            progress(result)

    # Batches an older ferry claimed and never marked (kept by the layout upgrade): applied if the ledger says so.
    legacy: list[tuple[str, int, int, dict[int, int]]] = []
    if has_legacy:
        with db.pool.connection() as conn:
            legacy = upgrade.legacy_batches(conn, schema.id)
    for old_id, first, last, seq_map in legacy:
        if first != applied + 1:
            continue
        found = _retrying(lambda: warehouse.batch_applied(old_id), retries, backoff)  # noqa: B023
        with db.pool.connection() as conn:
            if found is None:
                upgrade.forget_legacy(conn, schema.id, all_of_them=True)  # its rows are simply staged
                break
            found.skipped = [(seq_map.get(seq, seq), reason) for seq, reason in found.skipped]
            found.failed = [(seq_map.get(seq, seq), reason) for seq, reason in found.failed]
            found.uuids = {}
            done(first, last, old_id, found)
            upgrade.forget_legacy(conn, schema.id, all_of_them=False, upto=last)
        applied = last
    # The warehouse's ledger is the truth of how far it got: batches it committed whose copy never reached staging
    # (a crash between the two commits) are recorded first, in order.
    while True:
        first = applied + 1
        ledger_id = outcomes.batch_id(identity, schema.id, first)
        found = _retrying(lambda: warehouse.batch_applied(ledger_id), retries, backoff)  # noqa: B023
        if found is None:
            break
        if found.last_seq is None:
            raise FerryError(errors.SYNC_LEDGER_MISMATCH, f"{schema.id}: the warehouse's ledger entry {ledger_id} "
                             "names no staging range; check that FERRY_WAREHOUSE_URL is the warehouse this staging "
                             "database feeds")
        done(first, found.last_seq, ledger_id, found)
        applied = found.last_seq
    with db.pool.connection() as conn:
        proven = horizon.prove(conn, schema)
        _ensure_partitions(db, conn, schema, max(applied, proven or 0))
    upto = max(applied, proven or 0)
    with batches.readers(db).reader() as reader:
        _copy_batches(db, warehouse, schema, settings, reader, identity, applied, upto, applier, done, retries,
                      backoff)


# Per (staging database, schema id): the upper `_seq` bound of the partitions made ahead, as the last check saw it.
_partitions_ready: dict[tuple[str, str], int] = {}


def _ensure_partitions(db: StagingDatabase, conn: Any, schema: Schema, horizon_seq: int) -> None:
    """Make the log's next partitions before the sequence reaches them (`partitions.ensure`: ~6 round trips), unless
    the ones made ahead still reach a span past the horizon (a row beyond them lands in the DEFAULT partition
    meanwhile, and the next check moves it)."""
    key = (db.url, schema.id)
    ready = _partitions_ready.get(key)
    if ready is not None and ready > horizon_seq + partitions.SPAN:
        return
    partitions.ensure(conn, schema)
    made = partitions.partitions(conn, schema)
    if made:
        _partitions_ready[key] = made[-1][2]


def _copy_batches(db: StagingDatabase, warehouse: Warehouse, schema: Schema, settings: Settings,
                  reader: batches.BatchReader, identity: uuid.UUID, applied: int, upto: int, applier: Any,
                  done: Callable[[int, int, str, BatchOutcome], None], retries: int, backoff: float) -> None:
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-read")
    limits = (settings.batch_rows, settings.batch_bytes)
    # Nothing overlaps the first read: with big batches, a smaller first one starts the apply (and the overlap)
    # sooner (~7% of a 1M-row sync into DuckDB).
    rows = settings.batch_rows
    first = (rows // FIRST_BATCH_SHARE if rows >= FIRST_BATCH_FROM else rows, settings.batch_bytes)
    try:
        # Batch N+1 is read while batch N is applied: its range starts where N's ends, known before N is applied.
        # A custom applier reads its rows whole; the generic sync only the attributes a batch carries.
        whole = applier is not None
        pending: Future[batches.Batch | None] = ahead.submit(reader.read, schema, applied, upto, *first,
                                                             every_column=whole)
        while True:
            batch = pending.result()
            if batch is None:
                break
            crash_point("after_read")
            # Up to twice the rows just read: the apply of a batch takes about as long as the read of twice its rows,
            # so the next read stays hidden while the batches grow from the small first one to FERRY_BATCH_ROWS.
            grown = min(limits[0], max(first[0], 2 * batch.rows.num_rows))
            pending = ahead.submit(reader.read, schema, batch.last_seq, upto, grown, limits[1], every_column=whole)
            ledger_id = outcomes.batch_id(identity, schema.id, batch.first_seq)
            outcome = _apply(warehouse, schema, ledger_id, batch, retries, backoff, (db, applier))
            done(batch.first_seq, batch.last_seq, ledger_id, outcome)
    finally:
        ahead.shutdown(wait=True)


def _apply(warehouse: Warehouse, schema: Schema, ledger_id: str, batch: batches.Batch, retries: int, backoff: float,
           custom: tuple[StagingDatabase, Any] | None = None) -> BatchOutcome:
    span = Span(batch.first_seq, batch.last_seq, batch.rows)

    tried = False

    def attempt() -> BatchOutcome:
        # After an outage the commit may have happened before the connection broke: ask the ledger first. (The
        # first attempt needs no look: the run holds the schema's lock, and checked the ledger past its horizon.)
        nonlocal tried
        if tried:
            found = warehouse.batch_applied(ledger_id)
            if found is not None:
                return found
        tried = True
        if custom is not None and custom[1] is not None:
            result: BatchOutcome = custom[1].apply(custom[0], warehouse, schema, ledger_id, batch.rows,
                                                   crash_point, span=span)
            return result
        return warehouse.apply_batch(schema, ledger_id, batch.rows, hook=crash_point, span=span)

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
    """Drop the log's applied rows older than `settings.retention_days` in every staged schema; recorded."""
    result = RunResult(uuid.uuid4(), None, workflow=PURGE_WORKFLOW)
    runs.start(db.pool, result)
    purged = 0
    try:
        with db.pool.connection() as conn:
            for schema in db.registry.staged():
                purged += retention.purge(conn, schema, settings.retention_days)
        result.state = "succeeded"
    except Exception as exc:
        result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("%s failed", PURGE_WORKFLOW)
    finally:
        result.counts["purged"] = purged
        result.ended_at = dt.datetime.now(dt.UTC)
        runs.finish(db.pool, result)
    return result
