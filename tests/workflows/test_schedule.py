"""Schedules of workflow scripts: durations and cron expressions."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry.errors import FerryError
from ferry.workflows.schedule import Schedule, describe_every, parse_cron, parse_every

UTC = dt.UTC


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400),
                                               ("2d", 172_800), ("90", 90), ("1.5h", 5400), ("1w", 604_800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds
    assert parse_every(describe_every(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "1h junk", "0s", "-5", "soon"])
def test_bad_durations_are_coded(text: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse_every(text)
    assert caught.value.code.code == "FRY-140004"


def test_cron_next_runs() -> None:
    at = dt.datetime(2026, 12, 7, 3, 40, 12, tzinfo=UTC)  # a Monday
    assert parse_cron("0 2 * * *").next_after(at) == dt.datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    assert parse_cron("*/15 * * * *").next_after(at) == dt.datetime(2026, 12, 7, 3, 45, tzinfo=UTC)
    assert parse_cron("0 9 * * mon-fri").next_after(dt.datetime(2026, 12, 11, 10, 0, tzinfo=UTC)) == \
        dt.datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # Friday 10:00 → Monday 09:00
    assert parse_cron("30 4 1 jan *").next_after(at) == dt.datetime(2027, 1, 1, 4, 30, tzinfo=UTC)
    assert parse_cron("@hourly").next_after(at) == dt.datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert parse_cron("0 0 * * 7").next_after(at) == dt.datetime(2026, 12, 13, 0, 0, tzinfo=UTC)  # 7 = Sunday
    # Both day fields restricted: either matches (the 15th, or a Sunday), as in cron.
    assert parse_cron("0 0 15 * sun").next_after(at) == dt.datetime(2026, 12, 13, 0, 0, tzinfo=UTC)
    assert parse_cron("0 12 29 2 *").next_after(at) == dt.datetime(2028, 2, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *",
                                  "x * * * *", "0 0 30 2 *"])
def test_bad_cron_is_coded(text: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse_cron(text)
    assert caught.value.code.code == "FRY-140004"


def test_every_keeps_its_grid_and_runs_a_missed_tick_once() -> None:
    hourly = Schedule(every_seconds=3600)
    due = dt.datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    # On time: the next tick is one step later.
    assert hourly.next_after(due + dt.timedelta(seconds=2), due) == dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    # Down for five hours: one run now stands for the missed ticks; the next one is back on the grid.
    late = dt.datetime(2026, 12, 7, 6, 20, tzinfo=UTC)
    assert hourly.next_after(late, due) == dt.datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["inf", "Infinity", "1e400", "99999999999d", "367d", "53w"])
def test_endless_or_overlong_periods_are_coded(text: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse_every(text)
    assert caught.value.code.code == "FRY-140004"


def test_the_longest_period_still_gives_a_next_run() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert Schedule(every_seconds=parse_every("366d")).next_after(now) == now + dt.timedelta(days=366)
    assert Schedule(every_seconds=1e300).next_after(now) == now + dt.timedelta(days=366)  # stored before the check
