"""Warehouse work of the API (queries, console lookups, subscriber reads, Write) on its own bounded threads.

Never asyncio's default pool, which the ingest path keeps for itself: a frozen warehouse can hold at most these
threads, and a read that waits longer than the read timeout (or finds every thread and the queue taken) is
answered with FRY-500006 instead of piling up.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ferry import errors
from ferry.errors import FerryError

_T = TypeVar("_T")
# Reads that may wait for a thread, per thread, before new ones are refused at once.
QUEUE_PER_THREAD = 4
OUTCOMES = ("ok", "timeout", "refused", "error")


class WarehouseReads:
    """`await reads.run(fn, *args)` runs `fn` on a warehouse thread, bounded by `timeout` seconds (0: none)."""

    def __init__(self, threads: int, timeout: float) -> None:
        self.threads = max(1, threads)
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="ferry-warehouse")
        self.in_flight = 0
        self.counts = dict.fromkeys(OUTCOMES, 0)
        # Told of each outcome and each change of `in_flight` (the server's metrics, shared across --workers).
        self.on_outcome: Callable[[str], None] | None = None
        self.on_flight: Callable[[int], None] | None = None

    async def run(self, fn: Callable[..., _T], *args: Any, bounded: bool = True) -> _T:
        """The result of `fn(*args)`; FRY-500006 when it takes longer than the timeout (it keeps its thread until
        it ends) or when too many are waiting. `bounded=False` waits for the end (a write whose outcome matters)."""
        if self.in_flight >= self.threads * (1 + QUEUE_PER_THREAD):
            self._count("refused")
            raise FerryError(errors.WAREHOUSE_TIMEOUT, f"{self.in_flight} warehouse calls are still waiting for the "
                             "warehouse (slow, frozen or unreachable); retry later")
        loop = asyncio.get_running_loop()
        self._flight(1)
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args))
        future.add_done_callback(self._done)
        try:
            if bounded and self.timeout > 0:
                result = await asyncio.wait_for(asyncio.shield(future), self.timeout)
            else:
                result = await future
        except TimeoutError:
            self._count("timeout")
            raise FerryError(errors.WAREHOUSE_TIMEOUT, f"the warehouse did not answer within {self.timeout:g} s "
                             "(FERRY_WAREHOUSE_READ_TIMEOUT); retry later") from None
        except FerryError as exc:
            self._count("timeout" if exc.code is errors.WAREHOUSE_TIMEOUT else "error")
            raise
        except Exception:
            self._count("error")
            raise
        self._count("ok")
        return result

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _flight(self, delta: int) -> None:
        self.in_flight += delta
        if self.on_flight is not None:
            self.on_flight(delta)

    def _done(self, _future: Any) -> None:
        self._flight(-1)

    def close(self) -> None:
        """Stop taking work; threads still waiting on a frozen warehouse are left to end on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
