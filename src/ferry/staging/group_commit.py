"""Group commit: accepted calls are written by dedicated writer threads, many calls per commit, then answered.

A call's future resolves only after the statement (or transaction) holding its rows has committed, so no reply
precedes durability. The writers are long-lived threads fed by a queue: they never use asyncio's default executor,
which warehouse reads share (a frozen warehouse there must not stop ingest). Grouping is adaptive: an idle writer
takes a call at once; calls group only while every writer has a commit in flight.

The answer never lies: when a commit's outcome is in doubt (the connection broke during or after it), the writer
looks the calls' request ids up on a fresh connection before answering; an error answer means nothing was staged.
The lookup first ends the broken connection's server process and waits until it is gone: a connection can break
while the server still runs its statement (waiting on a lock, say), and that process could commit after a lookup
that found nothing. Every wait is bounded (see `Limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.operations import Call
from ferry.schema.registry import SchemaRegistry
from ferry.staging import idempotency
from ferry.staging.idempotency import Claim, Stored
from ferry.staging.store import insert_calls, session_refused, valid_sessions, write_calls

log = logging.getLogger(__name__)

# Up to this many rows in a group, one INSERT statement beats BEGIN + COPY + COPY + COMMIT (4 round trips).
SMALL_GROUP_ROWS = 64
# SQLSTATE classes of errors one call's data causes (22 data exception, 23 integrity constraint violation).
_DATA_CLASSES = ("22", "23")
_PURGE_SECONDS = 600.0
# Two, not three: the staging tables' notify trigger makes every commit take a database-wide lock through its WAL
# flush, so writers' commits run one at a time anyway; a third writer only split the calls into smaller groups (more
# commits, thread wake-ups and GIL hand-offs per call: +20-25% server CPU per unitary call at 8 clients, bench/README
# "Unitary calls, fourth pass"). The second keeps ingest moving while one purges keys or resolves a commit in doubt.
WRITERS = 2


@dataclass(frozen=True)
class Limits:
    """How long a call may wait, in seconds: every wait of the write path is bounded by one of these."""

    connect: float = 2.0  # one connection attempt to staging
    retry: float = 2.0  # retrying a group that certainly did not commit (staging down or restarting)
    resolve: float = 5.0  # finding out whether a group whose commit was in doubt committed
    queue: float = 5.0  # waiting for a writer (all writers stuck on a frozen staging): then 503, nothing staged
    answer: float = 15.0  # a call taken by a writer gets an answer by then (plus `per_row` for big calls)
    per_row: float = 0.0002


class _Pending:
    """One submitted call, shared by the event loop and a writer thread (`state` guarded by the committer lock)."""

    __slots__ = ("call", "claim", "expired", "future", "queued_ns", "session", "state")

    def __init__(self, call: Call, claim: Claim | None, future: asyncio.Future[Stored | None],
                 session: bytes | None = None) -> None:
        self.call = call
        self.claim = claim
        self.session = session
        self.future = future
        self.queued_ns = time.perf_counter_ns()
        self.expired = False  # `Limits.queue` passed (on the loop)
        self.state = "queued"  # → "taken" by a writer, or "abandoned" by the loop after `Limits.queue`


_STOP = object()
# A writer's answer for one call: None (staged), Stored (an earlier answer of its Idempotency-Key), or an error.
Outcome = Stored | FerryError | None
GroupObserver = Callable[[int, float], None]


class GroupCommitter:
    """Calls submitted from the event loop, committed by `writers` threads each with its own staging connection."""

    def __init__(
        self,
        pool: ConnectionPool,
        registry: Callable[[], SchemaRegistry],
        *,
        writers: int = WRITERS,
        max_calls: int = 1000,
        max_rows: int = 100_000,
        limits: Limits | None = None,
    ) -> None:
        # The writers' own connections take the pool's settings (timeouts set there apply here too).
        conninfo, kwargs = pool.conninfo, pool.kwargs
        self._conninfo: str = conninfo() if callable(conninfo) else conninfo
        found = kwargs() if callable(kwargs) else kwargs
        self._connect_kwargs: dict[str, Any] = {**(found or {}), "autocommit": True}
        self._registry = registry
        self._writers = writers
        self._max_calls = max_calls
        self._max_rows = max_rows
        self.limits = limits or Limits()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: list[asyncio.Future[None]] = []
        self._inflight: dict[tuple[str, str], asyncio.Future[Stored | None]] = {}
        # Calls submitted in this turn of the loop, not yet handed to the writers (`_flush`).
        self._outbox: list[_Pending] = []
        # Calls submitted and not answered yet (on the loop), watched by one sweeping timer.
        self._waiting: dict[int, _Pending] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._purged_at = 0.0
        self.batches_written = 0
        self.calls_written = 0
        self.in_doubt_resolved = 0
        # Set by the metrics: called from a writer thread with (calls in the group, seconds the first one waited).
        self.observer: GroupObserver | None = None

    async def start(self) -> None:
        """Start the writer threads; their answers come back to the running event loop."""
        if self._threads:
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._queue = queue.SimpleQueue()
        self._stopped = [loop.create_future() for _ in range(self._writers)]
        self._threads = [threading.Thread(target=self._run, args=(stopped,), name=f"ferry-writer-{index}",
                                          daemon=True) for index, stopped in enumerate(self._stopped)]
        for thread in self._threads:
            thread.start()

    async def submit(self, call: Call, claim: Claim | None = None, *, session: bytes | None = None) -> Stored | None:
        """Stage `call`; returns once it is committed (None), or the kept answer of its Idempotency-Key (`claim`)
        when that key was already used; raises FerryError when it was not staged (or its outcome is unknown).

        `session`: the hash of the caller's session, checked still valid by the very statement that stages the call
        (no round trip of its own); SessionRefused, nothing staged, when it was revoked or expired. Not with a
        `claim` (a kept answer is given without a write: check the session before)."""
        loop = self._loop
        if loop is None:
            raise FerryError(errors.STAGING_UNAVAILABLE, "the staging writer is not running; nothing was staged")
        if claim is None:
            return await self._submit(loop, call, None, session)
        if session is not None:
            raise ValueError("a call with an Idempotency-Key has its session checked before it is submitted")
        # A concurrent repeat of a key waits for the first call with it, then finds its answer.
        slot = (claim.operator, claim.key)
        while (first := self._inflight.get(slot)) is not None:
            await asyncio.wait([first])
        mine: asyncio.Future[Stored | None] = loop.create_future()
        self._inflight[slot] = mine
        try:
            result = await self._submit(loop, call, claim)
        finally:
            del self._inflight[slot]
            mine.set_result(None)
        return result

    async def _submit(self, loop: asyncio.AbstractEventLoop, call: Call, claim: Claim | None,
                      session: bytes | None = None) -> Stored | None:
        future: asyncio.Future[Stored | None] = loop.create_future()
        item = _Pending(call, claim, future, session)
        # Calls submitted in one turn of the loop go to the writers together, once that turn ends: one writer
        # wakes for them all and commits them as one group (a writer woken per call makes small groups, and
        # takes the GIL from the loop once per call).
        outbox = self._outbox
        outbox.append(item)
        if len(outbox) == 1:
            loop.call_soon(self._flush)
        waiting = self._waiting
        waiting[id(item)] = item
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._sweep_every(), self._sweep, loop)
        try:
            return await future
        finally:
            del waiting[id(item)]

    def _flush(self) -> None:
        """On the loop: hand the calls submitted since the last flush to the writers, in order, in chunks within
        the group limits."""
        items, self._outbox = self._outbox, []
        chunk: list[_Pending] = []
        rows = 0
        for item in items:
            size = len(item.call.operations)
            if chunk and (len(chunk) >= self._max_calls or rows + size > self._max_rows):
                self._queue.put(chunk)
                chunk, rows = [], 0
            chunk.append(item)
            rows += size
        if chunk:
            self._queue.put(chunk)

    def _sweep_every(self) -> float:
        # One timer for every call in flight (a timer per call is ~6 µs of the loop's time per call); a call
        # expires at most this much after `Limits.queue`.
        return min(0.1, self.limits.queue / 10)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: expire the calls in flight longer than `Limits.queue` (each once), while any are (also
        after `close`: a call left to a stuck writer still gets its answer in time)."""
        self._sweeper = None
        if not self._waiting:
            return
        due = time.perf_counter_ns() - int(self.limits.queue * 1e9)
        for item in [item for item in self._waiting.values() if item.queued_ns <= due and not item.expired]:
            item.expired = True
            self._expire(item)
        if self._waiting:
            self._sweeper = loop.call_later(self._sweep_every(), self._sweep, loop)

    def _expire(self, item: _Pending) -> None:
        """On the loop: a call still queued is dropped (nothing staged); one being written gets more time."""
        if item.future.done():
            return
        with self._lock:
            if item.state == "queued":
                item.state = "abandoned"
        if item.state == "abandoned":
            item.future.set_exception(FerryError(errors.STAGING_UNAVAILABLE, "no staging writer was free within "
                                                 f"{self.limits.queue:g} s (staging slow or frozen); nothing was "
                                                 "staged by this call: retry later"))
            return
        limits = self.limits
        budget = limits.answer + limits.per_row * len(item.call.operations)
        asyncio.get_running_loop().call_later(budget, self._give_up, item)

    def _give_up(self, item: _Pending) -> None:
        if not item.future.done():
            item.future.set_exception(_in_doubt([item.call], "the commit did not finish in time"))

    async def close(self) -> None:
        """Write everything already submitted, then stop the writer threads."""
        if self._loop is None:
            return
        self._flush()  # the calls of this turn go before the stop
        for _ in self._threads:
            self._queue.put(_STOP)
        # Bounded: a writer stuck on a frozen staging must not hold the shutdown forever (its thread is a daemon).
        _, stuck = await asyncio.wait(self._stopped, timeout=self.limits.answer + self.limits.resolve)
        if stuck:
            log.error("%d staging writer(s) did not stop in time (staging frozen?); left behind", len(stuck))
        self._threads = []
        self._loop = None

    # -- the writer threads ---------------------------------------------------------------------------------------

    def _run(self, stopped: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        writer = _Writer(self)
        try:
            while True:
                batch, stop = self._take()
                if batch:
                    outcomes = writer.write(batch)
                    _call_soon(loop, _deliver, batch, outcomes)
                if stop:
                    return
                writer.maybe_purge()
        except Exception:  # never leave callers waiting on a dead writer
            log.exception("staging writer failed")
        finally:
            writer.close()
            _call_soon(loop, _set_done, stopped)

    def _take(self) -> tuple[list[_Pending], bool]:
        """The next group: every queued call (up to the limits, passed by less than one flush's chunk), once at
        least one is there."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch: list[_Pending] = list(first)
        rows = sum(len(item.call.operations) for item in batch)
        stop = False
        while len(batch) < self._max_calls and rows < self._max_rows:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                break
            if chunk is _STOP:
                stop = True
                break
            batch += chunk
            rows += sum(len(item.call.operations) for item in chunk)
        with self._lock:
            live = [item for item in batch if item.state == "queued"]
            for item in live:
                item.state = "taken"
        if live and self.observer is not None:
            self.observer(len(live), (time.perf_counter_ns() - live[0].queued_ns) / 1e9)
        return live, stop


class _Writer:
    """One writer thread's connection and its write of a group, with the in-doubt rule."""

    def __init__(self, owner: GroupCommitter) -> None:
        self.owner = owner
        self.conn: psycopg.Connection[Any] | None = None
        # The server process of `conn` (pid, start time): the pair names it even once the pid is reused.
        self.backend: tuple[int, Any] | None = None
        self._broken_backend: tuple[int, Any] | None = None

    @property
    def limits(self) -> Limits:
        return self.owner.limits

    def connect(self) -> psycopg.Connection[Any]:
        kwargs = {"connect_timeout": max(1, round(self.limits.connect)), **self.owner._connect_kwargs}
        return psycopg.Connection.connect(self.owner._conninfo, **kwargs)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
            # Until a lookup proved it gone, it may still be running the statement the connection broke in.
            if self.backend is not None:
                self._broken_backend = self.backend
            self.backend = None

    def maybe_purge(self) -> None:
        """Delete expired Idempotency-Keys every few minutes, between groups."""
        owner = self.owner
        if time.monotonic() - owner._purged_at < _PURGE_SECONDS:
            return
        owner._purged_at = time.monotonic()
        try:
            if self.conn is None:
                self.conn = self.connect()
            idempotency.purge(self.conn)
        except Exception as exc:
            log.warning("idempotency purge failed: %s", exc)
            self.close()

    def write(self, batch: list[_Pending]) -> list[Outcome]:
        """Each call's outcome, found out for sure."""
        outcomes: dict[int, Outcome] = {}
        self._write(batch, outcomes, time.monotonic())
        owner = self.owner
        staged = sum(1 for outcome in outcomes.values() if outcome is None)
        if staged:
            owner.batches_written += 1
            owner.calls_written += staged
        # Every call has its outcome by now; the error is built only for one that (against expectation) has none.
        return [outcomes[id(item)] if id(item) in outcomes else _unavailable("the call was not written")
                for item in batch]

    def _write(self, items: list[_Pending], outcomes: dict[int, Outcome], started: float) -> None:
        pending = items
        attempt = 0
        while pending:
            attempt += 1
            try:
                pending = self._answer_keys(pending, outcomes)
                if not pending:
                    return
                self._commit(pending)
            except _NotCommitted as failure:
                if failure.data_caused and len(pending) > 1:
                    # Definitely not committed, and one call's data is to blame: each call alone.
                    log.warning("group commit of %d calls refused (%s); writing them one by one", len(pending),
                                failure.cause)
                    for item in pending:
                        self._write([item], outcomes, started)
                    return
                if failure.data_caused:
                    self._refuse(pending[0], failure, outcomes)
                    return
                if time.monotonic() - started + 0.1 > self.limits.retry or attempt > 20:
                    for item in pending:
                        outcomes[id(item)] = _unavailable(str(failure.cause))
                    return
                time.sleep(min(0.05 * attempt, 0.25))
                continue
            except _InDoubt as doubt:
                committed = self._resolve(pending)
                if committed is None:
                    log.error("commit of %d calls in doubt and staging unreachable: %s", len(pending), doubt.cause)
                    for item in pending:
                        outcomes[id(item)] = _in_doubt([item.call], str(doubt.cause))
                    return
                self.owner.in_doubt_resolved += 1
                log.warning("commit of %d calls was in doubt (%s): %d had committed", len(pending), doubt.cause,
                            sum(1 for item in pending if item.call.request_id in committed))
                rest = []
                for item in pending:
                    if item.call.request_id in committed:
                        outcomes[id(item)] = None
                    else:
                        rest.append(item)
                if rest and time.monotonic() - started > self.limits.retry + self.limits.resolve:
                    for item in rest:
                        outcomes[id(item)] = _unavailable(str(doubt.cause))
                    return
                pending = rest
                continue
            for item in pending:
                outcomes[id(item)] = None
            return

    def _refuse(self, item: _Pending, failure: _NotCommitted, outcomes: dict[int, Outcome]) -> None:
        cause = failure.cause
        if item.session is not None and (session_refused(cause) or not self._session_valid(item.session)):
            # Another error may have come first in the statement: a revoked session is still told as such.
            outcomes[id(item)] = SessionRefused()
            return
        if isinstance(cause, pg_errors.UniqueViolation):
            # A retry of a group that did commit, or a key another server just used: look before refusing.
            committed = self._resolve([item])
            if committed is not None and item.call.request_id in committed:
                outcomes[id(item)] = None
                return
            if item.claim is not None and _constraint(cause) == "idempotency_pkey":
                found = self._stored([item])
                if found:
                    outcomes[id(item)] = found[0]
                    return
        if isinstance(cause, FerryError):
            outcomes[id(item)] = cause
            return
        message = getattr(getattr(cause, "diag", None), "message_primary", None) or str(cause)
        outcomes[id(item)] = FerryError(errors.STAGING_REFUSED, f"the staging database refused the call "
                                        f"({message}); nothing was staged by it")

    def _session_valid(self, session: bytes) -> bool:
        """Whether a session is still valid in staging (True when that cannot be found out: the call's own
        refusal is answered then)."""
        try:
            return session in valid_sessions(self._connection(), [session])
        except Exception:
            self.close()
            return True

    def _answer_keys(self, items: list[_Pending], outcomes: dict[int, Outcome]) -> list[_Pending]:
        """Calls whose Idempotency-Key already has an answer get it (or a mismatch error); the others remain."""
        claims = [item.claim for item in items if item.claim is not None]
        if not claims:
            return items
        conn = self._connection()
        try:
            found = idempotency.lookup(conn, claims)
        except Exception as exc:
            raise self._classify(exc) from exc
        rest = []
        for item in items:
            claim = item.claim
            stored = found.get((claim.operator, claim.key)) if claim is not None else None
            if stored is None:
                rest.append(item)
            else:
                outcomes[id(item)] = stored if stored.matches else _mismatch(claim)
        return rest

    def _stored(self, items: list[_Pending]) -> list[Outcome]:
        try:
            conn = self._connection()
            found = idempotency.lookup(conn, [item.claim for item in items if item.claim is not None])
        except Exception:
            self.close()
            return []
        result: list[Outcome] = []
        for item in items:
            claim = item.claim
            stored = found.get((claim.operator, claim.key)) if claim is not None else None
            if stored is not None:
                result.append(stored if stored.matches else _mismatch(claim))
        return result

    def _connection(self) -> psycopg.Connection[Any]:
        if self.conn is not None and not self.conn.closed:
            return self.conn
        self.conn = None
        try:
            self.conn = self.connect()
            row = self.conn.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
                                    ).fetchone()
        except Exception as exc:  # nothing was sent: certainly not committed
            self.close()
            raise _NotCommitted(exc, data_caused=False) from exc
        self.backend = (int(row[0]), row[1]) if row else None
        return self.conn

    def _commit(self, items: list[_Pending]) -> None:
        conn = self._connection()
        calls = [item.call for item in items]
        keys = [item.claim.row(item.call.request_id) for item in items if item.claim is not None]
        sessions = [item.session for item in items] if any(item.session is not None for item in items) else []
        try:
            registry = self.owner._registry()
            # Small groups (unitary calls): one autocommitted INSERT; big ones: COPY inside a transaction.
            if sum(len(call.operations) for call in calls) <= SMALL_GROUP_ROWS \
                    and insert_calls(conn, registry, calls, keys, sessions):
                return
            with conn.transaction():
                write_calls(conn, registry, calls, keys, sessions)
        except Exception as exc:
            raise self._classify(exc) from exc

    def _classify(self, exc: Exception) -> _NotCommitted | _InDoubt:
        """Whether a failed write certainly did not commit, or may have (the connection broke on the way)."""
        conn = self.conn
        broken = conn is None or conn.closed or conn.info.transaction_status in (
            psycopg.pq.TransactionStatus.UNKNOWN, psycopg.pq.TransactionStatus.ACTIVE)
        if isinstance(exc, _NotCommitted | _InDoubt):
            return exc
        if broken or isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            self.close()
            return _InDoubt(exc)
        if isinstance(exc, psycopg.Error):
            state = exc.sqlstate or ""
            return _NotCommitted(exc, data_caused=state[:2] in _DATA_CLASSES)
        if isinstance(exc, FerryError):
            return _NotCommitted(exc, data_caused=True)
        # Built or encoded before the server ran it (a schema gone from the registry, a value psycopg refuses).
        return _NotCommitted(exc, data_caused=True)

    def _resolve(self, items: Sequence[_Pending]) -> set[uuid.UUID] | None:
        """The request ids of `items` that are committed, read on a fresh connection; None if staging stays
        unreachable for `Limits.resolve` seconds."""
        self.close()
        ids = [item.call.request_id for item in items]
        deadline = time.monotonic() + self.limits.resolve
        pause = 0.05
        while True:
            try:
                conn = self.connect()
                try:
                    if not _ended(conn, self._broken_backend, deadline):
                        log.warning("cannot check %d calls in doubt: the broken connection's server process %s "
                                    "did not end in time", len(ids), self._broken_backend)
                        return None
                    self._broken_backend = None
                    rows = conn.execute("SELECT id FROM ferry.requests WHERE id = ANY(%s)", (ids,)).fetchall()
                finally:
                    conn.close()
                return {row[0] for row in rows}
            except Exception as exc:
                if time.monotonic() + pause > deadline:
                    log.warning("cannot check %d calls in doubt: %s", len(ids), exc)
                    return None
                time.sleep(pause)
                pause = min(pause * 2, 0.5)


def _ended(conn: psycopg.Connection[Any], backend: tuple[int, Any] | None, deadline: float) -> bool:
    """End the server process of a broken connection (it may still run the statement it broke in) and wait until it
    is gone, so what it did is final; False if it outlives `deadline`. A restarted server has no such process."""
    if backend is None:
        return True
    query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND backend_start = %s"
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        # A process of the same role may be ended by it; a commit under way completes before the process exits.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s AND backend_start = %s",
                     backend)
    while True:
        row = conn.execute(query, backend).fetchone()
        if not row or not row[0]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


class SessionRefused(FerryError):
    """The caller's session was revoked or had expired when the call's write ran: nothing was staged."""

    def __init__(self) -> None:
        super().__init__(errors.SESSION_INVALID, "the session was revoked or has expired; nothing was staged")


class _NotCommitted(Exception):
    """The write certainly did not commit; `data_caused` when one call's data is to blame."""

    def __init__(self, cause: BaseException, *, data_caused: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.data_caused = data_caused


class _InDoubt(Exception):
    """The connection broke while the write or its commit was on the way: it may have committed."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _constraint(exc: BaseException) -> str | None:
    diag = getattr(exc, "diag", None)
    return getattr(diag, "constraint_name", None)


def _unavailable(reason: str) -> FerryError:
    return FerryError(errors.STAGING_UNAVAILABLE, f"the staging database is unavailable ({reason.strip()[:200]}); "
                      "nothing was staged by this call: retry later")


def _in_doubt(calls: Sequence[Call], reason: str) -> FerryError:
    ids = ", ".join(str(call.request_id) for call in calls)
    return FerryError(errors.STAGING_IN_DOUBT, f"staging failed while committing request {ids} "
                      f"({reason.strip()[:200]}) and could not be reached to check it: the call may have been "
                      "staged. Look it up (GET /api/v1/requests/{id}) or retry with the same Idempotency-Key")


def _mismatch(claim: Claim | None) -> FerryError:
    key = claim.key[:64] if claim is not None else "?"
    return FerryError(errors.IDEMPOTENCY_MISMATCH, f"Idempotency-Key {key!r} was already used by this operator "
                      "for a different request (method, schema or body) within 24 hours; nothing was staged: "
                      "use a new key for a new request")


def _deliver(batch: list[_Pending], outcomes: list[Outcome]) -> None:
    """On the loop: resolve each call's future with its outcome."""
    for item, outcome in zip(batch, outcomes, strict=True):
        future = item.future
        if future.done():
            continue
        if isinstance(outcome, FerryError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    # A closed loop (RuntimeError): nobody waits for these answers any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
