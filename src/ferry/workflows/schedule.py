"""When a workflow runs: every fixed duration (`90s`, `15m`, `1h30m`, `1d`) or a five-field cron expression (UTC).

The cron dialect is Vixie cron's: `minute hour day-of-month month day-of-week`, each field `*`, numbers, ranges
`a-b`, steps `*/n` or `a-b/n`, lists `a,b`, month and day names (`jan`, `mon`), Sunday as 0 or 7, and the
shorthands `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. As in cron, when both day fields are
restricted a day matching either one runs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ferry import errors
from ferry.errors import FerryError

MIN_EVERY_SECONDS = 1.0
MAX_EVERY_SECONDS = 366 * 86_400.0  # a longer period is a mistake (and past datetime's range, soon enough)

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_SHORTHANDS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
               "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
# A cron expression that matches nothing (`0 0 31 2 *`) is refused when its next run is this far away.
_SEARCH_YEARS = 5


def parse_every(text: str) -> float:
    """`90s`, `15m`, `1h30m`, `2d`, or plain seconds → seconds; FRY-140004 otherwise."""
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        seconds = 0.0
        position = 0
        for match in _DURATION.finditer(cleaned):
            if cleaned[position:match.start()].strip():
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if not cleaned or cleaned[position:].strip() or position == 0:
            raise FerryError(errors.BAD_SCHEDULE, f"--every {text!r} is not a duration: write it like 30s, 15m, 1h, "
                             "1h30m or 1d") from None
    if not seconds >= MIN_EVERY_SECONDS:
        raise FerryError(errors.BAD_SCHEDULE, f"--every {text!r} is shorter than {MIN_EVERY_SECONDS:g} s")
    if not seconds <= MAX_EVERY_SECONDS:  # also infinity
        raise FerryError(errors.BAD_SCHEDULE, f"--every {text!r} is longer than 366 days: use a cron expression "
                         "for a yearly run")
    return seconds


def describe_every(seconds: float) -> str:
    """3600 → `1h`, 5400 → `1h30m`, 45 → `45s`: the short form `parse_every` reads back."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the allowed values of each field."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month was `*`
    any_weekday: bool  # day-of-week was `*`

    def matches_day(self, day: dt.date) -> bool:
        """True when cron runs on `day` (the OR of both day fields when both are restricted)."""
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return in_week
        if self.any_weekday:
            return in_month
        return in_month or in_week

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `after` (UTC)."""
        moment = after.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = moment + dt.timedelta(days=366 * _SEARCH_YEARS)
        while moment < limit:
            if moment.month not in self.months:
                moment = _first_of_next_month(moment)
                continue
            if not self.matches_day(moment.date()):
                moment = (moment + dt.timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if moment.hour not in self.hours:
                moment = (moment + dt.timedelta(hours=1)).replace(minute=0)
                continue
            if moment.minute not in self.minutes:
                moment += dt.timedelta(minutes=1)
                continue
            return moment
        raise FerryError(errors.BAD_SCHEDULE, f"cron {self.text!r} never matches a date")


def _first_of_next_month(moment: dt.datetime) -> dt.datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0)


def parse_cron(text: str) -> Cron:
    """A cron expression → `Cron`; FRY-140004 naming the field that is wrong."""
    expression = _SHORTHANDS.get(text.strip().lower(), text.strip())
    fields = expression.split()
    if len(fields) != 5:
        raise FerryError(errors.BAD_SCHEDULE, f"cron {text!r} needs 5 fields (minute hour day-of-month month "
                         f"day-of-week), not {len(fields)}; e.g. \"0 2 * * *\" for 02:00 UTC every day")
    minute, hour, day, month, weekday = fields
    weekdays = _field(text, "day-of-week", weekday, 0, 7, _DAYS)
    cron = Cron(
        text=text.strip(),
        minutes=_field(text, "minute", minute, 0, 59),
        hours=_field(text, "hour", hour, 0, 23),
        days=_field(text, "day-of-month", day, 1, 31),
        months=_field(text, "month", month, 1, 12, _MONTHS, first=1),
        weekdays=frozenset(value % 7 for value in weekdays),
        any_day=day == "*",
        any_weekday=weekday == "*",
    )
    cron.next_after(dt.datetime.now(dt.UTC))  # refuses an expression that never matches (Feb 30th)
    return cron


def _field(text: str, name: str, spec: str, low: int, high: int, names: list[str] | None = None,
           first: int = 0) -> frozenset[int]:
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = _value(a, names, first), _value(b, names, first)
            else:
                start = _value(body, names, first)
                end = high if step_text else start
        except ValueError:
            raise FerryError(errors.BAD_SCHEDULE, f"cron {text!r}: {name} field {spec!r} is not a number, range, "
                             "step or list") from None
        if step < 1 or not (low <= start <= end <= high):
            raise FerryError(errors.BAD_SCHEDULE, f"cron {text!r}: {name} field {spec!r} is outside {low}-{high} "
                             "or its range is reversed")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(token: str, names: list[str] | None, first: int) -> int:
    lowered = token.strip().lower()
    if names and lowered in names:
        return names.index(lowered) + first
    return int(lowered)


@dataclass(frozen=True)
class Schedule:
    """A workflow's schedule: `every_seconds` or `cron` (exactly one)."""

    every_seconds: float | None = None
    cron: str | None = None

    def describe(self) -> str:
        """`every 1h` or `cron 0 2 * * *`."""
        if self.cron is not None:
            return f"cron {self.cron}"
        return f"every {describe_every(self.every_seconds or 0.0)}"

    def next_after(self, now: dt.datetime, due: dt.datetime | None = None) -> dt.datetime:
        """The next tick after `now`. With `every`, ticks stay on the grid of the previous `due` one; ticks missed
        while no server ran are not replayed (the one late run stands for them all)."""
        if self.cron is not None:
            return parse_cron(self.cron).next_after(now)
        # Clamped: a period stored before it was checked must not stop the scheduler with an OverflowError.
        step = dt.timedelta(seconds=min(max(self.every_seconds or 0.0, MIN_EVERY_SECONDS), MAX_EVERY_SECONDS))
        if due is None or due > now:
            return now + step
        missed = (now - due) // step
        return due + step * (missed + 1)
