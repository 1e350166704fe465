"""The background marker: one mark in flight, reported in order, its error raised to the run."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from ferry.sync import batches
from ferry.sync.marker import Marker
from ferry.warehouse.base import BatchOutcome


def _claimed(n: int) -> batches.Claimed:
    return batches.Claimed(uuid.uuid4(), n, 1, n)


def test_marks_run_one_at_a_time_and_are_reported_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    running = threading.Semaphore(1)
    order: list[int] = []

    def mark(_pool: Any, _schema: Any, claimed: batches.Claimed, _outcome: BatchOutcome) -> None:
        assert running.acquire(blocking=False), "two marks in flight"
        order.append(claimed.first_seq)
        running.release()

    monkeypatch.setattr(batches, "mark", mark)
    reported: list[str] = []
    marker = Marker(None, None)  # type: ignore[arg-type]
    try:
        for n in range(5):
            marker.submit(_claimed(n), BatchOutcome(str(n), {}), lambda o: reported.append(o.batch_id))
        marker.wait()
    finally:
        marker.close()
    assert order == [0, 1, 2, 3, 4]
    assert reported == ["0", "1", "2", "3", "4"]


def test_a_failed_mark_is_raised_by_the_next_submit_and_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def mark(_pool: Any, _schema: Any, claimed: batches.Claimed, _outcome: BatchOutcome) -> None:
        raise RuntimeError(f"staging gone at {claimed.first_seq}")

    monkeypatch.setattr(batches, "mark", mark)
    reported: list[str] = []
    marker = Marker(None, None)  # type: ignore[arg-type]
    try:
        marker.submit(_claimed(1), BatchOutcome("1", {}), lambda o: reported.append(o.batch_id))
        with pytest.raises(RuntimeError, match="staging gone at 1"):
            marker.submit(_claimed(2), BatchOutcome("2", {}), lambda o: reported.append(o.batch_id))
    finally:
        marker.close()
    assert reported == []


def test_a_mark_in_flight_when_the_run_fails_is_still_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch failing (close without wait) must not drop the marked batch from the run's record."""
    monkeypatch.setattr(batches, "mark", lambda *_args: None)
    reported: list[str] = []
    marker = Marker(None, None)  # type: ignore[arg-type]
    marker.submit(_claimed(1), BatchOutcome("1", {}), lambda o: reported.append(o.batch_id))
    marker.close()
    assert reported == ["1"]
