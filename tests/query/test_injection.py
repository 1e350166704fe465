"""Hostile query input: refused with a FerryError or treated strictly as data; the table survives, nothing else ran."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from ferry.errors import FerryError
from ferry.query import compile_query, parse_query_def, query_from_params

TABLE = '"nms_recipient"'


def escape_xtk(value: str) -> str:
    """What `sdk.escapeXtk` does to an interpolated value: a single-quoted literal with \\' and \\\\ escapes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def tables(engine: Any) -> set[str]:
    if engine.dialect == "duckdb":
        return {row[0] for row in engine.fetch("SELECT table_name FROM duckdb_tables()", [])}
    return {row[0] for row in engine.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", [])}


def assert_intact(engine: Any) -> None:
    assert tables(engine) == {"nms_recipient"}
    assert engine.row_count() == 5


DATA_PAYLOADS = [
    "x' OR '1'='1",
    "'; DROP TABLE \"nms_recipient\"; --",
    "x'); DELETE FROM \"nms_recipient\"; --",
    "a@x.com' /* comment */ --",
    "\\'; DROP TABLE nms_recipient; --",
    "pg_sleep(10)",
    "'||(SELECT version())||'",
    "x\"; DROP TABLE nms_recipient; --",
]


@pytest.mark.parametrize("payload", DATA_PAYLOADS)
def test_escaped_values_are_plain_data(fresh_engine: Any, recipient: Any, payload: str) -> None:
    query = parse_query_def(etree.fromstring(
        f'<queryDef schema="nms:recipient" operation="select"><select><node expr="@id"/></select>'
        f'<where><condition expr="{attr("@email = " + escape_xtk(payload))}"/></where></queryDef>'))
    compiled = compile_query(query, recipient, TABLE, fresh_engine.dialect)  # type: ignore[arg-type]
    assert compiled.params == [payload]
    assert payload not in compiled.sql
    assert fresh_engine.fetch(compiled.sql, compiled.params) == []
    assert_intact(fresh_engine)


def test_unescaped_or_is_a_bound_comparison_not_sql(fresh_engine: Any, recipient: Any) -> None:
    # A client that forgets escapeXtk writes a valid xtk expression; it still never becomes SQL text.
    query = query_from_params("nms:recipient", fields="id", filter="@email = 'x' OR '1'='1'")
    compiled = compile_query(query, recipient, TABLE, fresh_engine.dialect)  # type: ignore[arg-type]
    assert compiled.params == ["x", "1", "1"]
    assert "'x'" not in compiled.sql and "'1'" not in compiled.sql
    assert len(fresh_engine.fetch(compiled.sql, compiled.params)) == 5
    assert_intact(fresh_engine)


EXPRESSIONS = [
    "@email = 'x'; DROP TABLE nms_recipient",
    "@email = 'x' OR 1=1; --",
    "@email = 'x' -- ' AND @id = 'r1'",
    "@email = 'x' /* */",
    "@email = 'x'' OR ''1''=''1'",
    "pg_sleep(10) IS NULL",
    "read_csv('/etc/passwd') IS NULL",
    "@email IN (SELECT email FROM nms_recipient)",
    "@email = current_user",
    "@email = (SELECT 1)",
    "@email\"; DROP TABLE nms_recipient; --",
    "@email\" = 'x'",
    "@nope = 1",
    "@emai = 'x'",
    "[@email/@x] = 'x'",
    "[@email]] = 'x'",
    "[location/@city] = 'x'",
    "@email = 'x' UNION SELECT 1",
    "@email = 'x'\u037e DROP",
    "@email = 'a\x00b'",
    "@ema\u0456l = 'x'",  # a Cyrillic i
    "@email = E'\\x27'",
    "@email = $$x$$",
    "@email::text = 'x'",
    "@email = 'x' || 'y'",
    "pg_read_file('/etc/passwd') = 'x'",
    "Lower(@email) = 'x' AND sleep(5) = 0",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_hostile_expressions_are_refused(engine: Any, recipient: Any, expression: str) -> None:
    with pytest.raises(FerryError) as caught:
        query = query_from_params("nms:recipient", fields="id", filter=expression)
        compile_query(query, recipient, TABLE, engine.dialect)  # type: ignore[arg-type]
    assert caught.value.code.code.startswith("FRY-700")
    assert_intact(engine)


@pytest.mark.parametrize("query_xml", [
    '<queryDef schema="nms:recipient"><select><node expr="@email; DROP TABLE nms_recipient"/></select></queryDef>',
    '<queryDef schema="nms:recipient"><select><node expr="@email" alias="x&quot; FROM pg_tables --"/></select>'
    '</queryDef>',
    '<queryDef schema="nms:recipient"><select><node expr="@email" alias="a b"/></select></queryDef>',
    '<queryDef schema="nms:recipient"><orderBy><node expr="@email; DROP TABLE x" sortDesc="true"/></orderBy>'
    '</queryDef>',
    '<queryDef schema="nms:recipient"><orderBy><node expr="1 DESC; DROP TABLE x"/></orderBy></queryDef>',
    '<queryDef schema="nms:recipient" lineCount="1; DROP TABLE nms_recipient"/>',
    '<queryDef schema="nms:recipient" startLine="-1"/>',
    '<queryDef schema="nms:recipient; DROP TABLE x"/>',
    '<queryDef schema="nms:recipient" operation="delete"/>',
    '<queryDef schema="nms:recipient"><where><condition sql="1=1; DROP TABLE nms_recipient"/></where></queryDef>',
    '<queryDef schema="nms:recipient"><where><condition expr="@id = \'r1\'" boolOperator="; DROP"/></where>'
    '</queryDef>',
    '<queryDef schema="nms:recipient"><having><condition expr="count() > 1; DROP TABLE x"/></having></queryDef>',
    '<queryDef schema="nms:recipient"><groupBy><node expr="1) UNION SELECT 1 --"/></groupBy></queryDef>',
    '<queryDef schema="nms:recipient"><where><subQuery schema="nms:recipient"/></where></queryDef>',
    '<queryDef schema="nms:recipient"><select><node expr="pg_sleep(10)"/></select></queryDef>',
])
def test_hostile_query_defs_are_refused(engine: Any, recipient: Any, query_xml: str) -> None:
    with pytest.raises(FerryError) as caught:
        query = parse_query_def(etree.fromstring(query_xml))
        compile_query(query, recipient, TABLE, engine.dialect)  # type: ignore[arg-type]
    assert caught.value.code.code.startswith("FRY-700")
    assert_intact(engine)


def test_client_text_never_reaches_the_sql(recipient: Any) -> None:
    # Aliases, literals and the schema id all stay out of the statement; only schema identifiers appear.
    query = parse_query_def(etree.fromstring(
        '<queryDef schema="nms:recipient" operation="select" lineCount="3" startLine="1">'
        '<select><node expr="Concat(@firstName, \'SENTINEL1\')" alias="SENTINEL2"/><node expr="@email"/></select>'
        '<where><condition expr="@email like \'SENTINEL3%\' OR @gender IN (7, 8)"/></where>'
        '<orderBy><node expr="@email" sortDesc="true"/></orderBy></queryDef>'))
    for dialect in ("duckdb", "postgres"):
        compiled = compile_query(query, recipient, TABLE, dialect)  # type: ignore[arg-type]
        assert "SENTINEL" not in compiled.sql and "7" not in compiled.sql and "nms:recipient" not in compiled.sql
        assert compiled.params == ["SENTINEL1", "SENTINEL3%", 7, 8, 3, 1]
        assert [c.name for c in compiled.columns] == ["SENTINEL2", "email"]
