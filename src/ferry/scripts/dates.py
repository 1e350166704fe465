"""Campaign's `formatDate` and `parseTimeStamp`, in Python (QuickJS has no Intl and follows the process's zone).

Times are UTC, the time zone ferry gives every operator. `formatDate` tokens: `%Y` year, `%M` month, `%D` day,
`%H` hour (0-23), `%I` hour (1-12), `%P` AM/PM, `%N` minute, `%S` second, `%L` milliseconds, `%%`; a digit after
`%` pads with zeros to that width (`%2Y` keeps the last two digits of the year, as Campaign does).
"""

from __future__ import annotations

import datetime as dt
import re

from ferry import errors
from ferry.errors import FerryError

DEFAULT_FORMAT = "%4Y-%2M-%2D %2H:%2N:%2S"
_TOKEN = re.compile(r"%(\d?)([YMDHINSLP%])")
_STAMP = re.compile(r"\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
                    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")


def to_datetime(value: float | str) -> dt.datetime:
    """A JS date (milliseconds since the epoch) or a timestamp text, as an aware UTC datetime."""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return dt.datetime.fromtimestamp(parse_timestamp(value) / 1000, dt.UTC)


def format_date(value: float | str, fmt: str | None) -> str:
    """`formatDate(date, "%4Y-%2M-%2D")`."""
    when = to_datetime(value)

    def token(match: re.Match[str]) -> str:
        width, letter = match.group(1), match.group(2)
        if letter == "%":
            return "%"
        if letter == "P":
            return "AM" if when.hour < 12 else "PM"
        number = {"Y": when.year, "M": when.month, "D": when.day, "H": when.hour, "I": (when.hour % 12) or 12,
                  "N": when.minute, "S": when.second, "L": when.microsecond // 1000}[letter]
        if not width:
            return str(number)
        digits = str(number).zfill(int(width))
        return digits[-int(width):] if letter == "Y" else digits

    return _TOKEN.sub(token, DEFAULT_FORMAT if fmt is None else fmt)


def parse_timestamp(text: str) -> int:
    """`YYYY-MM-DD[ hh:mm[:ss[.fff]]][Z|±hh:mm]` (UTC when no zone) → milliseconds since the epoch."""
    match = _STAMP.match(text)
    if match is None:
        raise FerryError(errors.SCRIPT_BAD_ARGUMENT, f"parseTimeStamp: {text[:60]!r} is not a timestamp like "
                         "2026-12-07 04:15:00")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = dt.UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        when = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                           int((fraction or "0").ljust(6, "0")), tzinfo=tz)
    except ValueError as exc:
        raise FerryError(errors.SCRIPT_BAD_ARGUMENT, f"parseTimeStamp: {text[:60]!r}: {exc}") from None
    return int(when.timestamp() * 1000)
