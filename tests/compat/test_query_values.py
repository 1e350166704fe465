"""Values a query cannot compute (an argument out of range, a division by zero, a bad boolean attribute) are coded
FRY-7 faults naming the expression, on DuckDB and PostgreSQL; never an internal error with a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

pytestmark = pytest.mark.anyio


def _select(expr: str, extra: str = "", attrs: str = "") -> str:
    return (f'<queryDef schema="nms:recipient" operation="select"{attrs}><select><node expr="{expr}"/></select>'
            f"{extra}</queryDef>")


CASES = [
    (_select("Substring(@email, 1, 99999999999)"), "FRY-700009", "Substring(@email, 1, 99999999999)"),
    (_select("Round(@gender, 1000)"), "FRY-700009", "Round(@gender, 1000)"),
    (_select("1/0"), "FRY-700010", "'1/0'"),
    (_select("@gender / 0.0"), "FRY-700010", "@gender / 0.0"),
    # A divisor that is 0 in a row: caught by the engine, still ferry's code.
    (_select("@gender / (@gender - @gender)"), "FRY-700010", "division by zero"),
    (_select("Substring(@email, 1, Length(@email) * 3000000000)"), "FRY-700011", "could not evaluate"),
    (_select("@email", '<orderBy><node expr="@email" sortDesc="true; DROP"/></orderBy>'), "FRY-700001",
     "sortDesc 'true; DROP' must be true or false"),
    (_select("@email", attrs=' distinct="yes"'), "FRY-700001", "distinct 'yes' must be true or false"),
]


async def _check(compat: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for query, code, named in CASES:
        reply = await compat.query(query)
        assert reply.fault is not None, (query, reply.body)
        assert reply.fault.startswith("SOP-330011 ") and code in reply.fault and named in reply.fault, reply.fault
        assert "FRY-400004" not in reply.fault
    assert not [record for record in caplog.records if record.exc_info], "an internal error was logged"
    rest = await compat.get("/api/v1/data/nms/recipient", fields="email", filter="@gender / 0 = 1")
    assert rest.status_code == 422 and rest.json()["error"]["code"] == "FRY-700010", rest.text
    # A boolean spelled as Campaign does still works.
    good = await compat.query(_select("@email", '<orderBy><node expr="@email" sortDesc="1"/></orderBy>',
                                      ' distinct="false"'))
    assert [row.get("email") for row in good.result()] == ["cid@y.org", "bob@x.com", "ann@x.com"]


async def test_query_values_duckdb(compat: Any, caplog: pytest.LogCaptureFixture) -> None:
    await _check(compat, caplog)


async def test_query_values_postgres(compat_pg: Any, caplog: pytest.LogCaptureFixture) -> None:
    await _check(compat_pg, caplog)
