"""Campaign attribute types and the conversion of incoming values to them."""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from typing import Any

from ferry import errors
from ferry.errors import FerryError


class AttrType(StrEnum):
    """The srcSchema attribute types ferry understands."""

    STRING = "string"
    MEMO = "memo"
    UUID = "uuid"
    BOOLEAN = "boolean"
    BYTE = "byte"
    SHORT = "short"
    LONG = "long"
    INT = "int"
    INT64 = "int64"
    DOUBLE = "double"
    FLOAT = "float"
    DATE = "date"
    DATETIME = "datetime"
    DATETIMETZ = "datetimetz"
    DATETIMENOTZ = "datetimenotz"
    TIME = "time"


INTEGER_RANGES: dict[AttrType, tuple[int, int]] = {
    AttrType.BYTE: (-128, 127),
    AttrType.SHORT: (-32768, 32767),
    AttrType.LONG: (-(2**31), 2**31 - 1),
    AttrType.INT: (-(2**31), 2**31 - 1),
    AttrType.INT64: (-(2**63), 2**63 - 1),
}

TEXT_TYPES = frozenset({AttrType.STRING, AttrType.MEMO, AttrType.UUID})
# Campaign stores UUIDs as text; external ids such as "ABC12345" are legal there.
UUID_LENGTH = 36
DEFAULT_STRING_LENGTH = 255

# Campaign's sqlname prefixes, used when a schema gives none.
SQL_PREFIX: dict[AttrType, str] = {
    AttrType.STRING: "s",
    AttrType.MEMO: "m",
    AttrType.UUID: "u",
    AttrType.BOOLEAN: "i",
    AttrType.BYTE: "i",
    AttrType.SHORT: "i",
    AttrType.LONG: "i",
    AttrType.INT: "i",
    AttrType.INT64: "i",
    AttrType.DOUBLE: "d",
    AttrType.FLOAT: "d",
    AttrType.DATE: "d",
    AttrType.DATETIME: "ts",
    AttrType.DATETIMETZ: "ts",
    AttrType.DATETIMENOTZ: "ts",
    AttrType.TIME: "tm",
}

# What the Adobe SDK's XtkCaster writes for a number (JavaScript's Number#toString): ASCII digits, a leading minus,
# a fraction and an exponent for floats. Anything else (`1_000`, Arabic-Indic digits, " 12 ", "0x10") is refused
# rather than guessed at.
INTEGER_TEXT = re.compile(r"-?[0-9]+", re.ASCII)
FLOAT_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
SURROGATE = re.compile("[\ud800-\udfff]")
# Campaign's float is single precision.
FLOAT_MAX = 3.4028234663852886e38

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _shown(value: Any) -> str:
    return repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."


def _bad(type_: AttrType, value: Any) -> FerryError:
    return FerryError(errors.BAD_VALUE, f"{_shown(value)} is not a valid {type_.value}")


def coerce(type_: AttrType, value: Any, length: int | None = None) -> Any:
    """Convert a document value (XML text or JSON scalar) to the Python value stored for `type_`.

    An empty value means empty/NULL: "" for text types, None for the others.
    """
    if value is None:
        return "" if type_ in TEXT_TYPES else None
    if isinstance(value, str) and value == "":
        return "" if type_ in TEXT_TYPES else None
    if type_ in TEXT_TYPES:
        return _coerce_text(type_, value, length)
    if type_ is AttrType.BOOLEAN:
        return _coerce_bool(value)
    if type_ in INTEGER_RANGES:
        return _coerce_int(type_, value)
    if type_ in (AttrType.DOUBLE, AttrType.FLOAT):
        return _coerce_float(type_, value)
    if type_ is AttrType.DATE:
        return _coerce_date(value)
    if type_ in (AttrType.DATETIME, AttrType.DATETIMETZ):
        return _coerce_datetime(value, aware=True)
    if type_ is AttrType.DATETIMENOTZ:
        return _coerce_datetime(value, aware=False)
    if type_ is AttrType.TIME:
        return _coerce_time(value)
    raise _bad(type_, value)  # pragma: no cover - every type is handled above


def _coerce_text(type_: AttrType, value: Any, length: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(type_, value)
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise FerryError(errors.BAD_VALUE, "text values cannot contain NUL characters")
    if not text.isascii() and SURROGATE.search(text):
        raise FerryError(errors.BAD_VALUE, "text values cannot contain lone surrogates (U+D800-U+DFFF), which are "
                         "not characters")
    limit = UUID_LENGTH if type_ is AttrType.UUID else length
    if limit is not None and len(text) > limit:
        raise FerryError(
            errors.VALUE_TOO_LONG, f"value of {len(text)} characters is longer than the maximum of {limit}"
        )
    return text


def _coerce_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _bad(AttrType.BOOLEAN, value)


def _coerce_int(type_: AttrType, value: Any) -> int:
    # A JSON true is not the number 1 (XtkCaster never sends one for a number).
    if isinstance(value, bool):
        raise _bad(type_, value)
    if isinstance(value, int):
        number = value
    elif ((isinstance(value, float) and value.is_integer())
          or (isinstance(value, str) and INTEGER_TEXT.fullmatch(value))):
        number = int(value)
    else:
        raise _bad(type_, value)
    low, high = INTEGER_RANGES[type_]
    if not low <= number <= high:
        raise FerryError(errors.BAD_VALUE, f"{number} is out of range for {type_.value} ({low}..{high})")
    return number


def _coerce_float(type_: AttrType, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(type_, value)
    if isinstance(value, int | float) or (isinstance(value, str) and FLOAT_TEXT.fullmatch(value)):
        number = float(value)
    else:
        raise _bad(type_, value)
    if math.isnan(number) or math.isinf(number):
        raise _bad(type_, value)
    if type_ is AttrType.FLOAT and abs(number) > FLOAT_MAX:
        raise FerryError(errors.BAD_VALUE, f"{value!r} is out of range for float (single precision, at most "
                         f"±{FLOAT_MAX:.7g})")
    return number


def _parse_iso(text: str) -> dt.datetime:
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    return dt.datetime.fromisoformat(cleaned.replace(" ", "T", 1) if "T" not in cleaned else cleaned)


def _coerce_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            # The Adobe SDK sends dates as midnight timestamps ("2024-01-02T00:00:00.000Z").
            return _parse_iso(text).date()
        except ValueError:
            raise _bad(AttrType.DATE, value) from None
    raise _bad(AttrType.DATE, value)


def _coerce_datetime(value: Any, *, aware: bool) -> dt.datetime:
    type_ = AttrType.DATETIME if aware else AttrType.DATETIMENOTZ
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _parse_iso(value)
        except ValueError:
            raise _bad(type_, value) from None
    else:
        raise _bad(type_, value)
    # A naive timestamp is read as UTC, as Campaign's SOAP layer does.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC) if aware else moment
    # The range holds after the offset: 9999-12-31T23:59:59-14:00 is in year 10000, 0001-01-01T00:00:00+14:00 in
    # 1 BC, which PostgreSQL would store and no client could read back.
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        raise FerryError(errors.BAD_VALUE, f"{_shown(value)} is out of range for {type_.value} once its offset is "
                         "applied (0001-01-01 to 9999-12-31 UTC)") from None
    return moment if aware else utc.replace(tzinfo=None)


def _coerce_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            raise _bad(AttrType.TIME, value) from None
    raise _bad(AttrType.TIME, value)


def to_text(type_: AttrType, value: Any) -> str:
    """The canonical text form of a stored value, as Campaign writes it in XML."""
    if value is None:
        return ""
    if type_ is AttrType.BOOLEAN:
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            utc = value.astimezone(dt.UTC)
            return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value}"
