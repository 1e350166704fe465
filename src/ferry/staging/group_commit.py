"""Group commit: calls arriving together are written in one transaction, then all answered.

A call's future resolves only after the COPY that holds its rows has committed, so no reply precedes durability.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.operations import Call
from ferry.schema.registry import SchemaRegistry
from ferry.staging.store import insert_calls, write_calls

log = logging.getLogger(__name__)

# Up to this many rows in a group, one INSERT statement beats BEGIN + COPY + COPY + COMMIT (4 round trips).
SMALL_GROUP_ROWS = 64


@dataclass
class _Pending:
    call: Call
    done: asyncio.Future[None]


class GroupCommitter:
    """A queue of accepted calls drained by a few writer tasks, each committing many calls at once."""

    def __init__(
        self,
        pool: ConnectionPool,
        registry: Callable[[], SchemaRegistry],
        *,
        writers: int = 3,
        max_calls: int = 1000,
        max_rows: int = 100_000,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._writers = writers
        self._max_calls = max_calls
        self._max_rows = max_rows
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.batches_written = 0
        self.calls_written = 0

    async def start(self) -> None:
        """Start the writer tasks on the running event loop."""
        if self._tasks:
            return
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._run(), name=f"ferry-group-commit-{i}") for i in range(self._writers)]

    async def submit(self, call: Call) -> None:
        """Stage `call`; returns once it is committed, raises FerryError if it could not be."""
        if self._queue is None:
            raise FerryError(errors.STAGING_UNAVAILABLE, "the staging writer is not running")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(call, done))
        await done

    async def close(self) -> None:
        """Write everything already submitted, then stop the writers."""
        if self._queue is None:
            return
        for _ in self._tasks:
            await self._queue.put(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._queue = None

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            first = await queue.get()
            if first is None:
                return
            batch = [first]
            rows = len(first.call.operations)
            stop = False
            while len(batch) < self._max_calls and rows < self._max_rows and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
                rows += len(item.call.operations)
            await self._write(batch)
            if stop:
                return

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await asyncio.to_thread(self._commit, [item.call for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0], exc)
                return
            # One call must not sink the others: retry each alone.
            log.warning("group commit of %d calls failed (%s); retrying one by one", len(batch), exc)
            for item in batch:
                try:
                    await asyncio.to_thread(self._commit, [item.call])
                except Exception as single:
                    _fail(item, single)
                else:
                    _succeed(item)
            return
        self.batches_written += 1
        self.calls_written += len(batch)
        for item in batch:
            _succeed(item)

    def _commit(self, calls: list[Call]) -> None:
        registry = self._registry()
        with self._pool.connection() as conn:
            # Small groups (unitary calls): one autocommitted INSERT; big ones: COPY inside a transaction.
            if sum(len(call.operations) for call in calls) <= SMALL_GROUP_ROWS and insert_calls(conn, registry, calls):
                return
            with conn.transaction():
                write_calls(conn, registry, calls)


def _succeed(item: _Pending) -> None:
    if not item.done.done():
        item.done.set_result(None)


def _fail(item: _Pending, exc: BaseException) -> None:
    if item.done.done():
        return
    if isinstance(exc, FerryError):
        item.done.set_exception(exc)
    else:
        log.error("staging write failed: %s", exc)
        item.done.set_exception(FerryError(errors.STAGING_UNAVAILABLE, f"the call could not be staged: {exc}"))
