"""How a run cuts its batches (`ferry.sync.workflow._Feed`): with a warehouse's batch granularity, a backlog's
batches reach it; a sync that caught up takes its small batches as they come."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pyarrow as pa

from ferry.sync.batches import Batch
from ferry.sync.workflow import _Feed


class _Log:
    """A log of `total` rows (`_seq` 1..total) read at most `part` rows at a time, as a byte bound would cut it;
    from `columns_from` on, its rows carry another column (a read that cannot join the batch waiting)."""

    def __init__(self, total: int, part: int, columns_from: int | None = None) -> None:
        self.total, self.part, self.columns_from = total, part, columns_from
        self.reads: list[int] = []

    def read(self, schema: Any, after: int, upto: int, max_rows: int, max_bytes: int, *,
             every_column: bool = False) -> Batch | None:
        upto = min(upto, self.total)
        if upto <= after:
            return None
        other = self.columns_from is not None and after + 1 >= self.columns_from
        end = upto if self.columns_from is None or other else min(upto, self.columns_from - 1)
        count = min(max_rows, self.part, end - after)
        self.reads.append(count)
        seqs = pa.array(range(after + 1, after + count + 1), pa.int64())
        rows = pa.table({"_seq": seqs, "b" if other else "a": seqs})
        # As BatchReader: the batch ends at the horizon unless a bound cut it.
        return Batch(after + 1, after + count if after + count < upto else upto, rows)


def _drain(feed: _Feed, first: int) -> list[Batch]:
    """Run the feed's producer on a thread and take every batch at once (an apply that takes no time); checks
    that the batches are the log's rows, once each, in order."""
    taken: list[Batch] = []
    producer = threading.Thread(target=feed.produce, args=(0, (first, 1 << 30), False))
    producer.start()
    try:
        while (batch := feed.take()) is not None:
            taken.append(batch)
    finally:
        feed.stop()
        producer.join()
    seqs = [seq for batch in taken for seq in batch.rows.column("_seq").to_pylist()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert all(b.first_seq == a.last_seq + 1 for a, b in itertools.pairwise(taken))
    return taken


def _feed(log: _Log, batch_rows: int, granularity: int) -> _Feed:
    feed = _Feed(None, None, log, False, None, 0, (batch_rows, 1 << 30), granularity)  # type: ignore[arg-type]
    feed.upto = log.total
    return feed


def test_a_backlogs_batches_reach_the_granularity() -> None:
    """Reads of 3 rows, granularity 10: after the run's small first batch, each batch holds at least 10 rows (the
    last one: what is left), at most the batch bound, and together they are the log in order."""
    log = _Log(total=200, part=3)
    sizes = [batch.rows.num_rows for batch in _drain(_feed(log, batch_rows=25, granularity=10), first=5)]
    assert sum(sizes) == 200
    assert all(10 <= size <= 25 for size in sizes[1:-1])
    assert len(sizes) >= 3


def test_the_backlog_is_read_in_parts_of_the_granularity() -> None:
    """The parts being read while a batch is applied are half the granularity (the apply starts sooner than
    after one big read)."""
    log = _Log(total=200, part=1000)
    _drain(_feed(log, batch_rows=50, granularity=20), first=10)
    assert log.reads[0] == 10
    assert max(log.reads[1:]) <= 10


def test_a_granularity_past_the_batch_bound_is_ignored() -> None:
    """The batch bound (memory) wins: a granularity above it leaves the reads and batches as without one."""
    log = _Log(total=30, part=1000)
    feed = _feed(log, batch_rows=25, granularity=26)
    assert feed.granularity == 0
    _drain(feed, first=5)
    assert log.reads[0] == 5


def test_a_read_of_other_columns_ends_the_batch_waiting() -> None:
    """Rows carrying other attributes cannot join the batch waiting: it is taken below the granularity instead of
    both sides waiting for each other."""
    log = _Log(total=40, part=3, columns_from=8)
    taken = _drain(_feed(log, batch_rows=25, granularity=10), first=3)
    assert 7 in [batch.last_seq for batch in taken]
    assert all(batch.rows.num_rows >= 10 for batch in taken[1:-1] if batch.last_seq != 7)


def test_a_caught_up_following_run_takes_small_batches_at_once() -> None:
    """Continuous mode: rows arrive 2 at a time and each read reaches the horizon, so each arrival is applied
    before the next comes (the next one is staged only once the previous is taken): none waits for 10 rows."""
    log = _Log(total=2, part=1000)
    feed = _feed(log, batch_rows=25, granularity=10)
    taken = threading.Condition()
    sizes: list[int] = []
    waited_out = []

    def follow() -> bool:
        with taken:
            if not taken.wait_for(lambda: sum(sizes) == log.total, timeout=10):
                waited_out.append(log.total)
                return False
        if log.total >= 10:
            return False
        log.total += 2
        return True

    feed.follow = follow
    feed.prove = lambda wait=0.0: setattr(feed, "upto", log.total)  # type: ignore[method-assign]
    producer = threading.Thread(target=feed.produce, args=(0, (25, 1 << 30), False))
    producer.start()
    try:
        while (batch := feed.take()) is not None:
            with taken:
                sizes.append(batch.rows.num_rows)
                taken.notify_all()
    finally:
        feed.stop()
        producer.join()
    assert not waited_out
    assert sizes == [2, 2, 2, 2, 2]
