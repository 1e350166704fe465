"""Queries on a Snowflake warehouse (fakesnow): the cases of tests/query on the compiled Snowflake SQL through
`SnowflakeWarehouse.select`, NULL timestamps, the session lock; then ExecuteQuery, GetEntityIfMoreRecent and REST
reads end to end after a sync into Snowflake (the cases of tests/compat)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from lxml import etree
from sf_reuse import cases, load

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.query import compile_query, parse_query_def, query_from_params, rows_to_json
from ferry.schema import Attribute, AttrType, SchemaRegistry, builtin_schemas
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_types import column_type
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse

QUERY = load("query/conftest.py")
EXECUTE = load("query/test_execute.py")
INJECTION = load("query/test_injection.py")
COMPAT = load("compat/conftest.py")
# `test_postgres_warehouse` (compat_pg) is the case of a warehouse other than DuckDB: queries with `%s` placeholders
# and a v7 Write in one warehouse transaction.
COMPAT_CASES = [*cases(load("compat/test_query.py"), "compat"), *cases(load("compat/test_query.py"), "compat_pg"),
                *((n, f, p) for n, f, p in cases(load("compat/test_sync_and_catalog.py"), "compat")
                  if n == "test_catalog")]  # GetEntityIfMoreRecent, as the SDK calls it before ExecuteQuery
RECIPIENT = SchemaRegistry(builtin_schemas()).get("nms:recipient")
assert RECIPIENT is not None
STAMPED = RECIPIENT.with_attributes((*RECIPIENT.attributes, Attribute("created", AttrType.DATETIME)))


def _tables(engine: Any) -> set[str]:
    """The schema's tables, the adapter's own ledger aside (stands in for the DuckDB/PostgreSQL catalog query)."""
    return {row[0] for row in engine.fetch("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = CURRENT_SCHEMA() AND table_name <> 'FERRY_LEDGER'",
                                           [])}


INJECTION.tables = _tables  # this copy of the module only


def _engine(url: str) -> tuple[Any, SnowflakeWarehouse]:
    """The rows of tests/query in a Snowflake table typed as the adapter types it; SELECTs go through `select`."""
    warehouse = open_warehouse(url)
    assert isinstance(warehouse, SnowflakeWarehouse)
    columns = ", ".join(f'"{a.name}" {column_type(a)}' for a in RECIPIENT.attributes)
    warehouse._run(f'CREATE TABLE "nms_recipient" ({columns})')
    for values in QUERY._values(RECIPIENT):
        warehouse._run(QUERY._insert_sql(RECIPIENT, "%s"), values)

    def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if sql.lstrip().upper().startswith("SELECT"):
            return warehouse.select(sql, params)
        warehouse._run(sql, list(params) or None)  # a test changing the table (ALTER, UPDATE)
        return []

    return QUERY.Engine("snowflake", fetch), warehouse


@pytest.fixture(scope="module")
def engine(new_snowflake_url: Callable[[], str]) -> Iterator[Any]:
    """One table shared read-only by the module's tests."""
    made, warehouse = _engine(new_snowflake_url())
    yield made
    warehouse.close()


@pytest.fixture
def fresh_engine(snowflake_url: str) -> Iterator[Any]:
    """A table of its own, for a test that changes it."""
    made, warehouse = _engine(snowflake_url)
    yield made
    warehouse.close()


def _params(module: Any, fixture: str) -> list[Any]:
    return [pytest.param(function, params, id=name) for name, function, params in cases(module, fixture)]


@pytest.mark.parametrize(("case", "params"), _params(EXECUTE, "engine") + _params(INJECTION, "engine"))
def test_query_cases(engine: Any, case: Callable[..., None], params: dict[str, Any]) -> None:
    case(engine=engine, recipient=RECIPIENT, **params)


@pytest.mark.parametrize(("case", "params"), _params(EXECUTE, "fresh_engine") + _params(INJECTION, "fresh_engine"))
def test_query_cases_on_a_fresh_table(fresh_engine: Any, case: Callable[..., None], params: dict[str, Any]) -> None:
    case(fresh_engine=fresh_engine, recipient=RECIPIENT, **params)


def test_client_text_never_reaches_the_sql() -> None:
    # The connector writes bound values into the statement itself: the compiled text must hold none of them.
    query = parse_query_def(etree.fromstring(
        '<queryDef schema="nms:recipient" operation="select" lineCount="3" startLine="1">'
        '<select><node expr="Concat(@firstName, \'SENTINEL1\')" alias="SENTINEL2"/><node expr="@email"/></select>'
        '<where><condition expr="@email like \'SENTINEL3%\' OR @gender IN (7, 8)"/></where>'
        '<orderBy><node expr="@email" sortDesc="true"/></orderBy></queryDef>'))
    compiled = compile_query(query, RECIPIENT, '"nms_recipient"', "snowflake")
    assert "SENTINEL" not in compiled.sql and "7" not in compiled.sql and "%%" not in compiled.sql
    assert compiled.sql.count("%s") == len(compiled.params) == 6
    assert compiled.params == ["SENTINEL1", "SENTINEL3%", 7, 8, 3, 1]


def test_null_timestamps_stay_null(fresh_engine: Any) -> None:
    # fakesnow hands NULL timestamps back as 1970-01-01: the compiled query's NULL flags put the NULLs back.
    fresh_engine.fetch('ALTER TABLE "nms_recipient" ADD COLUMN "created" TIMESTAMP_TZ', [])
    fresh_engine.fetch('UPDATE "nms_recipient" SET "created" = %s WHERE "id" = %s',
                       [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "r2"])
    xml = fresh_engine.xml(EXECUTE.qd(body='<select><node expr="@id"/><node expr="@created"/>'
                                           '<node expr="Coalesce(@created, GetDate())" alias="seen"/></select>'
                                           '<orderBy><node expr="@created" sortDesc="true"/><node expr="@id"/>'
                                           '</orderBy>'), STAMPED)
    rows = [dict(e.attrib) for e in etree.fromstring(xml)]
    assert [(r["id"], r.get("created")) for r in rows] == [
        ("r1", None), ("r3", None), ("r4", None), ("r5", None), ("r2", "2024-01-02T03:04:05.000Z")]
    assert all(r["seen"] > "2024-01-02T03:04:05.000Z" for r in rows[:4])  # GetDate(): after the stamp of r2
    newest = query_from_params("nms:recipient", fields="id,created", filter="@created IS NULL", order="id", limit=2)
    compiled = fresh_engine.compile(newest, STAMPED)
    assert rows_to_json(newest, compiled.columns, fresh_engine.fetch(compiled.sql, compiled.params)) == [
        {"id": "r1", "created": None}, {"id": "r3", "created": None}]
    empty = fresh_engine.xml(EXECUTE.qd(body='<select><node expr="Max(@created)" alias="last"/></select><where>'
                                             + EXECUTE.cond("@id = 'r1'") + '</where>'), STAMPED)
    assert empty == "<recipient-collection><recipient/></recipient-collection>"


def test_select_runs_only_selects_and_never_inside_a_transaction(snowflake_url: str) -> None:
    warehouse = open_warehouse(snowflake_url)
    try:
        with pytest.raises(FerryError) as caught:
            warehouse.select('DELETE FROM "ferry_ledger"', [])
        assert caught.value.code == errors.BAD_QUERY
        tx = warehouse._begin()

        def free() -> bool:  # can another thread (a query) take the session now?
            result: list[bool] = []
            probe = threading.Thread(target=lambda: result.append(_try_release(warehouse)))
            probe.start()
            probe.join()
            return result[0]

        assert not free()
        tx.rollback()
        assert free()
        assert warehouse.select("SELECT count(*) FROM \"ferry_ledger\"", []) == [(0,)]
    finally:
        warehouse.close()


def _try_release(warehouse: Any) -> bool:
    if not warehouse._lock.acquire(blocking=False):
        return False
    warehouse._lock.release()
    return True


# -- end to end: SOAP and REST on a Snowflake warehouse ------------------------------------------------------------


@pytest.fixture
async def compat(in_process: Any, settings: Settings, snowflake_url: str) -> AsyncIterator[Any]:
    """tests/compat's app (admin, `ann`, `dan`, three recipients synced), with a Snowflake warehouse."""
    async with COMPAT._compat(in_process, dataclasses.replace(settings, warehouse_url=snowflake_url)) as ready:
        assert isinstance(ready.runtime.warehouse.open(), SnowflakeWarehouse)
        yield ready


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "params"), [pytest.param(f, p, id=n) for n, f, p in COMPAT_CASES])
async def test_compat_cases(compat: Any, case: Callable[..., Any], params: dict[str, Any]) -> None:
    given = {"compat": compat, "compat_pg": compat}
    await case(**{name: given[name] for name in inspect.signature(case).parameters if name in given}, **params)


@pytest.mark.anyio
async def test_execute_query_functions_and_grouping(compat: Any) -> None:
    reply = await compat.query(
        '<queryDef schema="nms:recipient" operation="select"><select><node expr="@gender"/>'
        '<node expr="count()" alias="@n"/><node expr="Max(Concat(@firstName, \'-\', @lastName))" alias="@who"/>'
        '<node expr="Avg(Length(@email))" alias="@len"/></select>'
        "<where><condition expr=\"Lower(@email) like '%@%' AND @blackList = false\"/></where>"
        '<orderBy><node expr="@gender" sortDesc="true"/></orderBy></queryDef>')
    assert reply.fault is None, reply.body
    assert [dict(child.attrib) for child in reply.result()] == [
        {"gender": "2", "n": "1", "who": "Cid-", "len": "9"},
        {"gender": "1", "n": "2", "who": "Bob-O'Brien", "len": "9"}]
    found = await compat.get("/api/v1/data/nms/recipient", fields="email,blackList",
                             filter="@lastName IS NULL OR Substring(@email, 1, 3) = 'ann'", order="-email")
    assert found.json()["rows"] == [{"email": "cid@y.org", "blackList": False},
                                    {"email": "ann@x.com", "blackList": False}]
