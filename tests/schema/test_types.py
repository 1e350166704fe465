"""Converting incoming values to attribute types."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ferry.errors import FerryError
from ferry.schema.types import AttrType, coerce, to_text


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        (AttrType.STRING, "abc", "abc"),
        (AttrType.STRING, 12, "12"),
        (AttrType.STRING, "", ""),
        (AttrType.MEMO, "long text", "long text"),
        (AttrType.UUID, "ABC12345", "ABC12345"),
        (AttrType.BOOLEAN, "true", True),
        (AttrType.BOOLEAN, "0", False),
        (AttrType.BOOLEAN, True, True),
        (AttrType.BOOLEAN, "", None),
        (AttrType.BYTE, "-128", -128),
        (AttrType.SHORT, 32767, 32767),
        (AttrType.LONG, "-42", -42),
        (AttrType.DOUBLE, "1e+21", 1e21),  # how XtkCaster (JavaScript's Number#toString) writes large numbers
        (AttrType.FLOAT, "-3.4e38", -3.4e38),
        (AttrType.DATETIME, "9999-12-31T23:59:59+14:00",
         dt.datetime(9999, 12, 31, 9, 59, 59, tzinfo=dt.UTC)),
        (AttrType.DATETIME, "0001-01-01T00:00:00-14:00", dt.datetime(1, 1, 1, 14, tzinfo=dt.UTC)),
        (AttrType.INT64, "9223372036854775807", 2**63 - 1),
        (AttrType.DOUBLE, "1.5", 1.5),
        (AttrType.FLOAT, 2, 2.0),
        (AttrType.DATE, "2024-01-02", dt.date(2024, 1, 2)),
        (AttrType.DATE, "2024-01-02T00:00:00.000Z", dt.date(2024, 1, 2)),
        (AttrType.DATETIME, "2024-01-02T03:04:05.678Z",
         dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)),
        (AttrType.DATETIME, "2024-01-02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        (AttrType.DATETIMETZ, "2024-01-02T03:04:05+02:00",
         dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC)),
        (AttrType.DATETIMENOTZ, "2024-01-02T03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
        (AttrType.TIME, "12:30:00", dt.time(12, 30)),
        (AttrType.LONG, "", None),
    ],
)
def test_values_are_converted(type_: AttrType, raw: Any, expected: Any) -> None:
    assert coerce(type_, raw, 255) == expected


@pytest.mark.parametrize(
    ("type_", "raw", "code"),
    [
        (AttrType.BYTE, "128", "FRY-100006"),
        (AttrType.LONG, "4.5", "FRY-100006"),
        (AttrType.LONG, "12abc", "FRY-100006"),
        (AttrType.BOOLEAN, "maybe", "FRY-100006"),
        (AttrType.DOUBLE, "NaN", "FRY-100006"),
        (AttrType.DATE, "yesterday", "FRY-100006"),
        (AttrType.DATETIME, "2024-13-45", "FRY-100006"),
        (AttrType.STRING, {"a": 1}, "FRY-100006"),
        (AttrType.STRING, "x" * 11, "FRY-100007"),
        (AttrType.UUID, "x" * 37, "FRY-100007"),
        (AttrType.STRING, "nul\x00byte", "FRY-100006"),
        # Issue 27, item 7: a lone surrogate is no character (the Python API hands values over as they are).
        (AttrType.STRING, "a\ud800", "FRY-100006"),
        (AttrType.MEMO, "\udfff", "FRY-100006"),
        # Issue 27, item 8: only what the Adobe SDK's XtkCaster writes for a number.
        (AttrType.LONG, "1_000", "FRY-100006"),
        (AttrType.LONG, "\u0663", "FRY-100006"),  # an Arabic-Indic digit
        (AttrType.LONG, " 12 ", "FRY-100006"),
        (AttrType.LONG, "0x10", "FRY-100006"),
        (AttrType.LONG, True, "FRY-100006"),
        (AttrType.INT64, False, "FRY-100006"),
        (AttrType.DOUBLE, "1_000.5", "FRY-100006"),
        (AttrType.DOUBLE, "\u0663.5", "FRY-100006"),
        (AttrType.DOUBLE, " 1.5", "FRY-100006"),
        (AttrType.DOUBLE, "infinity", "FRY-100006"),
        (AttrType.FLOAT, "1e39", "FRY-100006"),
        (AttrType.FLOAT, -1e39, "FRY-100006"),
        # Issue 27, item 4: the year range holds after the offset is applied.
        (AttrType.DATETIME, "9999-12-31T23:59:59-14:00", "FRY-100006"),
        (AttrType.DATETIMETZ, "0001-01-01T00:00:00+14:00", "FRY-100006"),
        (AttrType.DATETIMENOTZ, "9999-12-31T23:00:00-01:00", "FRY-100006"),
        (AttrType.DATETIME, "10000-01-01Z", "FRY-100006"),
    ],
)
def test_bad_values_are_refused(type_: AttrType, raw: Any, code: str) -> None:
    with pytest.raises(FerryError) as info:
        coerce(type_, raw, 10)
    assert info.value.code.code == code


def test_text_form_is_campaign_like() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert to_text(AttrType.DATETIME, moment) == "2024-01-02T03:04:05.678Z"
    assert to_text(AttrType.BOOLEAN, False) == "false"
    assert to_text(AttrType.LONG, None) == ""
