"""Hostile query text through SOAP ExecuteQuery and the REST read API: every attempt is refused with a fault / 4xx
(or, when it is a well-formed string literal, bound as a value), and the warehouse table is intact afterwards."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

import pytest

pytestmark = pytest.mark.anyio

REFUSED_CONDITIONS = [
    "@email = 'a' OR 1=1; DROP TABLE nms_recipient",      # semicolon
    "@email = 'a'; DELETE FROM nms_recipient",
    "@email = 'a' -- comment",                             # SQL comments
    "/* comment */ @email = 'a'",
    "@email = 'a''",                                       # unbalanced quote
    "@email = 'a' UNION SELECT 1",
    "pg_sleep(1) = 1",                                     # unknown functions
    "Sleep(5) = 0",
    "current_setting('is_superuser') = 'on'",
    "@password = 'x'",                                     # attribute names not in the schema
    '@"email" = \'a\'',
    "@email\" = '' OR \"1",
    "[@email]) OR (1 = 1",
]


async def _table_intact(compat: Any) -> None:
    assert [row["email"] for row in compat.warehouse_rows()] == ["ann@x.com", "bob@x.com", "cid@y.org"]


@pytest.mark.parametrize("condition", REFUSED_CONDITIONS)
async def test_soap_refuses(compat: Any, condition: str) -> None:
    reply = await compat.query('<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
                               f"</select><where><condition expr={quoteattr(condition)}/></where></queryDef>")
    assert reply.fault is not None, reply.body
    assert reply.fault.startswith("SOP-330011 ") and "FRY-700" in reply.fault
    await _table_intact(compat)


@pytest.mark.parametrize("condition", REFUSED_CONDITIONS)
async def test_rest_refuses(compat: Any, condition: str) -> None:
    reply = await compat.get("/api/v1/data/nms/recipient", filter=condition)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["error"]["code"].startswith("FRY-700")
    await _table_intact(compat)


@pytest.mark.parametrize(("fields", "order"), [("email;drop table x", None), ("email--", None), ("pass word", None),
                                               ("nothere", None), (None, "email; DROP TABLE x"),
                                               (None, "-nothere"), (None, "email desc")])
async def test_rest_refuses_bad_names(compat: Any, fields: str | None, order: str | None) -> None:
    params = {key: value for key, value in (("fields", fields), ("order", order)) if value is not None}
    reply = await compat.get("/api/v1/data/nms/recipient", **params)
    assert 400 <= reply.status_code < 500, reply.text
    await _table_intact(compat)


async def test_soap_refuses_hostile_select_and_order(compat: Any) -> None:
    for part in ('<select><node expr="@email; DROP TABLE nms_recipient"/></select>',
                 '<select><node expr="@email" alias="x&quot; FROM nms_recipient; --"/></select>',
                 '<select><node expr="Load_Extension(\'x\')"/></select>',
                 '<select><node expr="@email"/></select><orderBy><node expr="1; DROP TABLE nms_recipient"/></orderBy>'):
        reply = await compat.query(f'<queryDef schema="nms:recipient" operation="select">{part}</queryDef>')
        assert reply.fault is not None, part
    reply = await compat.query("<queryDef schema=\"nms:recipient; DROP TABLE x\" operation=\"select\"/>")
    assert reply.fault is not None
    await _table_intact(compat)


async def test_hostile_values_are_bound(compat: Any) -> None:
    """A quote or SQL inside a well-formed string literal is a value: no row matches, nothing runs."""
    for literal in ("'x\\'; DROP TABLE nms_recipient; --'", "'; --'", "'\\' OR 1=1 --'"):
        reply = await compat.query('<queryDef schema="nms:recipient" operation="count"><where>'
                                   f"<condition expr={quoteattr('@email = ' + literal)}/></where></queryDef>")
        assert reply.fault is None, reply.body
        assert reply.result().get("count") == "0"
        rest = await compat.get("/api/v1/data/nms/recipient", filter=f"@email = {literal}")
        assert rest.status_code == 200 and rest.json()["count"] == 0
    await _table_intact(compat)
