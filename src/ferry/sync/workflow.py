"""`ffdaReplicateStagingData`: replicate one staged schema into the warehouse, batch by batch, exactly once."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.logs import log_context
from ferry.schema.model import Schema
from ferry.staging import horizon, outcomes, partitions, upgrade
from ferry.staging.database import StagingDatabase
from ferry.sync import batches, retention, runs, trace
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
# With a warehouse's batch granularity, a backlog is read in parts of 1/GRANULE_PARTS of it, after a first batch
# of at most 1/FIRST_GRANULE_SHARE of it.
GRANULE_PARTS = 2
FIRST_GRANULE_SHARE = 4
# A backlog (width of the `_seq` range proven) of at least SPLIT_FROM is read in two parts or more.
SPLIT_FROM = 20_000

_T = TypeVar("_T")
Progress = Callable[["RunResult"], None]
# Asked by a run that reached its horizon: True when rows were committed since and the run should go on.
Follow = Callable[[], bool]
# A following run proves a newer horizon at most this often (each proof reads pg_locks).
FOLLOW_PROOF_SECONDS = 0.02

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
             retries: int = RETRIES, backoff: float = BACKOFF, record_idle: bool = True,
             follow: Follow | None = None) -> RunResult:
    """Sync every row staged for `schema_id` now: record batches the ledger has and staging lacks, then read,
    apply and record batches up to the horizon proven at the start.

    With `follow` (continuous mode), each time the run reaches its horizon it asks `follow()` whether rows were
    committed since (a notification came): if so it proves a newer horizon and goes on in the same run, the next
    batch read and proven while the current one is applied.

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
                    _sync(db, warehouse, schema, settings, result, progress, retries, backoff, follow)
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
          progress: Progress | None, retries: int, backoff: float, follow: Follow | None = None) -> None:
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
        trace.mark(batch_first, "applied")
        with db.pool.connection() as conn:
            outcomes.record_batch(conn, schema, batch_first, batch_last, batch, int(outcome.counts.get("read", 0)),
                                  outcome.skipped, outcome.failed, outcome.uuids)
        crash_point("after_copy")
        trace.mark(batch_first, "recorded")
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
    with batches.readers(db).reader() as reader:
        feed = _Feed(db, schema, reader, applier is not None, follow, applied,
                     (settings.batch_rows, settings.batch_bytes), warehouse.batch_granularity)
        feed.prove()
        _copy_batches(warehouse, schema, settings, feed, identity, applied, applier, done, retries, backoff, db)


# Per (staging database, schema id): the upper `_seq` bound of the partitions made ahead, as the last check saw it.
_partitions_ready: dict[tuple[str, str], int] = {}


def _ensure_partitions(db: StagingDatabase, conn: Any, schema: Schema, horizon_seq: int) -> None:
    """Make the log's next partitions before the sequence reaches them (`partitions.ensure`: ~6 round trips), unless
    the ones made ahead still reach a span past the horizon (a row beyond them lands in the DEFAULT partition
    meanwhile, and the next check moves it)."""
    key = (db.url, schema.id)
    ready = _partitions_ready.get(key)
    if ready is None:
        # A process's first run: one catalog read finds what earlier runs (of any process) made ahead.
        found = partitions.partitions(conn, schema)
        if found:
            ready = _partitions_ready[key] = found[-1][2]
    if ready is not None and ready > horizon_seq + partitions.SPAN:
        return
    partitions.ensure(conn, schema)
    made = partitions.partitions(conn, schema)
    if made:
        _partitions_ready[key] = made[-1][2]


class _Feed:
    """The batches of one run, read and proven on the run's read-ahead thread while the run applies the previous
    one: up to the horizon proven at the start, and past it while `follow` says rows were committed since.

    At most one batch waits ready (the memory of one batch, as without following): what is read while it waits is
    appended to it, up to the batch bounds, so the next apply takes everything proven meanwhile. The ranges are
    contiguous (each read starts where the last ended), so a merged batch is the one a single read would give.

    With a `granularity` (the warehouse's `batch_granularity`, when the row bound reaches it), a backlog is read in
    parts of a fraction of it and every batch after the run's first waits until it holds that many rows, unless
    the log below the horizon holds no more: big batches without a big read that nothing overlaps.
    """

    def __init__(self, db: StagingDatabase, schema: Schema, reader: batches.BatchReader, whole: bool,
                 follow: Follow | None, applied: int, limits: tuple[int, int], granularity: int = 0) -> None:
        self.db, self.schema, self.reader, self.whole, self.follow = db, schema, reader, whole, follow
        self.limits = limits
        self.granularity = granularity if 0 < granularity <= limits[0] else 0
        self.upto = applied  # only grows: each proof is of a horizon no transaction can still add rows below
        self._cond = threading.Condition()
        self._ready: batches.Batch | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._stopped = False
        self._proved_at = 0.0
        self._more = False  # the last read stopped at a bound: rows wait behind it below the horizon
        self._blocked = False  # the producer holds a read it cannot append to the batch waiting
        self._taken = 0

    def prove(self, wait: float = horizon.WAIT_SECONDS) -> None:
        """Move `upto` to the horizon proven now (making the log's next partitions before the sequence needs
        them)."""
        with self.db.pool.connection() as conn:
            proven = horizon.prove(conn, self.schema, wait=wait)
            self.upto = max(self.upto, proven or 0)
            _ensure_partitions(self.db, conn, self.schema, self.upto)
        self._proved_at = time.monotonic()
        trace.proven(self.upto)

    def produce(self, after: int, first: tuple[int, int], fresh: bool) -> None:
        """Read from `after` on (the read-ahead thread's task) until the run ends; `fresh` proves first."""
        try:
            if fresh:
                self.prove()
            limits = first
            while True:
                # With a granularity the batch waiting fills up to the batch bounds (its apply waits for a part of
                # them); else up to this read's limits.
                bound = self.limits if self.granularity else limits
                with self._cond:
                    while self._ready is not None and not self._room(self._ready, bound) and not self._stopped:
                        self._cond.wait()
                    if self._stopped:
                        return
                    held = self._ready
                rows, size = limits
                if held is not None:  # only what still fits beside the batch waiting
                    rows, size = min(rows, bound[0] - held.rows.num_rows), max(1, bound[1] - held.rows.nbytes)
                started = time.time()
                batch = self.reader.read(self.schema, after, self.upto, rows, size, every_column=self.whole)
                if batch is None:
                    self._reached()
                    if self.follow is None or not self.follow():
                        break
                    # A following run's proofs are spaced (each reads pg_locks) and first do not wait for the
                    # writers they see (a later proof proves what this one could not); only when nothing past the
                    # last batch is proven does one wait, as a run's first proof does.
                    pause = self._proved_at + FOLLOW_PROOF_SECONDS - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    self.prove(wait=0.0)
                    if self.upto <= after:
                        self.prove()
                    continue
                trace.read(batch.first_seq, batch.last_seq, batch.rows.num_rows, started)
                self._put(batch, more=batch.last_seq < self.upto)
                after = batch.last_seq
                limits = self._next_limits(first, batch.rows.num_rows)
        except BaseException as exc:
            with self._cond:
                self._error = exc
                self._cond.notify_all()
            return
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _next_limits(self, first: tuple[int, int], read: int) -> tuple[int, int]:
        if self.granularity:
            # Parts of the granularity: the batch waiting grows while the previous one is applied, and its apply
            # starts as soon as it is big enough instead of after one big read.
            return max(1, self.granularity // GRANULE_PARTS), self.limits[1]
        # The next read is up to twice the rows of this one: applying a batch takes about as long as reading
        # twice its rows, so reads stay hidden while batches grow from a small first one to the bounds.
        return min(self.limits[0], max(first[0], 2 * read)), self.limits[1]

    def take(self) -> batches.Batch | None:
        """The next batch to apply (everything read since the last take); None when the producer ended."""
        with self._cond:
            while self._waits():
                self._cond.wait()
            batch, self._ready = self._ready, None
            if batch is None:
                if self._error is not None:
                    raise self._error
                self._ended = False  # taken: a new produce() may start
            else:
                self._taken += 1
            self._cond.notify_all()
            return batch

    def _waits(self) -> bool:
        # Called holding the condition.
        if self._ended or self._error is not None:
            return False
        held = self._ready
        if held is None:
            return True
        # A backlog's batch below the granularity waits for the parts being read, unless it is the run's first (it
        # starts the overlap) or the producer cannot add to it (bounds reached, or a read of other columns).
        return bool(self.granularity and self._taken and self._more and not self._blocked
                    and held.rows.num_rows < self.granularity and self._room(held, self.limits))

    def stop(self) -> None:
        """Make the producer return (the run ends, or failed)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _room(self, held: batches.Batch, limits: tuple[int, int]) -> bool:
        return bool(held.rows.num_rows < limits[0] and held.rows.nbytes < limits[1])

    def _reached(self) -> None:
        with self._cond:
            self._more = False
            self._cond.notify_all()

    def _put(self, batch: batches.Batch, *, more: bool) -> None:
        with self._cond:
            while self._ready is not None and not _joinable(self._ready, batch) and not self._stopped:
                self._blocked = True
                self._cond.notify_all()
                self._cond.wait()
            self._blocked = False
            if self._stopped:
                return
            held = self._ready
            if held is None:
                self._ready = batch
            else:
                self._ready = batches.Batch(held.first_seq, batch.last_seq,
                                            pa.concat_tables([held.rows, batch.rows]))
            self._more = more
            self._cond.notify_all()


def _joinable(held: batches.Batch, batch: batches.Batch) -> bool:
    """Whether `batch` can be appended to `held`: contiguous, the same columns (the attributes carried)."""
    return batch.first_seq == held.last_seq + 1 and bool(held.rows.schema.equals(batch.rows.schema))


def _copy_batches(warehouse: Warehouse, schema: Schema, settings: Settings, feed: _Feed, identity: uuid.UUID,
                  applied: int, applier: Any, done: Callable[[int, int, str, BatchOutcome], None], retries: int,
                  backoff: float, db: StagingDatabase) -> None:
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-read")
    # Nothing overlaps the first read: with big batches, a smaller first one starts the apply (and the overlap)
    # sooner (~7% of a 1M-row sync into DuckDB).
    rows = settings.batch_rows
    first_rows = rows // FIRST_BATCH_SHARE if rows >= FIRST_BATCH_FROM else rows
    if feed.granularity:
        # A first batch below the granularity goes through DuckDB's WAL, which a later commit checkpoints once it
        # passes 16 MiB: keep it a fraction of a granule (the reads after it are as many either way).
        first_rows = min(first_rows, feed.granularity // FIRST_GRANULE_SHARE)
    if feed.upto - applied >= SPLIT_FROM:
        # A backlog of a few first batches or less: a third of it first, so its apply hides the read of the rest.
        first_rows = min(first_rows, (feed.upto - applied) // 3)
    first = (first_rows, settings.batch_bytes)
    try:
        # Batch N+1 is read while batch N is applied: its range starts where N's ends, known before N is applied.
        # A custom applier reads its rows whole; the generic sync only the attributes a batch carries.
        ahead.submit(feed.produce, applied, first, False)
        after = applied
        while True:
            batch = feed.take()
            if batch is None:
                # Rows committed while the last batch was applied: on in this run, from a newer horizon.
                if feed.follow is None or not feed.follow():
                    break
                ahead.submit(feed.produce, after, feed.limits, True)
                continue
            crash_point("after_read")
            ledger_id = outcomes.batch_id(identity, schema.id, batch.first_seq)
            trace.mark(batch.first_seq, "apply_start", batch.last_seq, batch.rows.num_rows)
            outcome = _apply(warehouse, schema, ledger_id, batch, retries, backoff, (db, applier))
            done(batch.first_seq, batch.last_seq, ledger_id, outcome)
            after = batch.last_seq
    finally:
        feed.stop()
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
        return warehouse.apply_batch(schema, ledger_id, batch.rows, hook=trace.hook(batch.first_seq, crash_point),
                                     span=span)

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
    """Drop the log's applied rows older than `settings.retention_days` in every staged schema; recorded when it
    dropped something or failed (an idle pass is only counted, as the sync's idle runs are)."""
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
        runs.finish(db.pool, result, keep=result.state != "succeeded" or purged > 0)
    return result
