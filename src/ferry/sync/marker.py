"""Marking applied batches in the background, so the staging UPDATE of batch N overlaps the work on batch N+1."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from psycopg_pool import ConnectionPool

from ferry.schema.model import Schema
from ferry.sync import batches
from ferry.warehouse.base import BatchOutcome

log = logging.getLogger(__name__)

Done = Callable[[BatchOutcome], None]


class Marker:
    """At most one mark in flight: a new one (or `wait`) first waits for the previous one and reports it.

    A batch is only marked after its warehouse commit, and the next one is claimed after that commit, so at any
    time at most two batches are claimed and unmarked; a crash leaves them in `ferry.sync_batches` for the resume.
    """

    def __init__(self, pool: ConnectionPool, schema: Schema) -> None:
        self._pool = pool
        self._schema = schema
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-mark")
        self._pending: tuple[Future[None], BatchOutcome, Done] | None = None

    def submit(self, claimed: batches.Claimed, outcome: BatchOutcome, done: Done) -> None:
        """Mark `claimed` with `outcome` in the background; `done(outcome)` runs here once it is committed."""
        self.wait()
        future = self._executor.submit(batches.mark, self._pool, self._schema, claimed, outcome)
        self._pending = (future, outcome, done)

    def wait(self) -> None:
        """Wait for the mark in flight, if any; raise its error, else report it."""
        if self._pending is None:
            return
        future, outcome, done = self._pending
        self._pending = None
        future.result()
        done(outcome)

    def close(self) -> None:
        """Wait for the mark in flight and report it (logging its error when another one is already on its way
        out), stop."""
        try:
            if self._pending is not None:
                future, outcome, done = self._pending
                self._pending = None
                if future.exception() is not None:
                    log.error("marking a batch failed: %s", future.exception())
                else:
                    done(outcome)  # the batch is marked: its counts belong to the run's record
        finally:
            self._executor.shutdown(wait=True)
