"""Fixtures: the built-in nms:recipient schema as a real DuckDB table and a real PostgreSQL table, with rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import psycopg
import pytest
from lxml import etree

from ferry.query import CompiledQuery, QueryDef, compile_query, parse_query_def, rows_to_xml
from ferry.schema import AttrType, Schema, SchemaRegistry, builtin_schemas
from ferry.schema.postgres_types import PG_TYPES

DUCKDB_TYPES = {
    AttrType.STRING: "VARCHAR", AttrType.MEMO: "VARCHAR", AttrType.UUID: "VARCHAR", AttrType.BOOLEAN: "BOOLEAN",
    AttrType.BYTE: "SMALLINT", AttrType.SHORT: "SMALLINT", AttrType.LONG: "INTEGER", AttrType.INT: "INTEGER",
    AttrType.INT64: "BIGINT", AttrType.DOUBLE: "DOUBLE", AttrType.FLOAT: "DOUBLE", AttrType.DATE: "DATE",
    AttrType.DATETIME: "TIMESTAMPTZ", AttrType.DATETIMETZ: "TIMESTAMPTZ", AttrType.DATETIMENOTZ: "TIMESTAMP",
    AttrType.TIME: "TIME",
}
TABLE = '"nms_recipient"'

ROWS: list[dict[str, Any]] = [
    {"id": "r1", "email": "a@x.com", "firstName": "Ann", "lastName": "Archer", "gender": 2,
     "birthDate": dt.date(1990, 5, 1), "blackList": False, "origin": None},
    {"id": "r2", "email": "b@x.com", "firstName": "Bob", "lastName": "Brown", "gender": 1,
     "birthDate": dt.date(1985, 1, 15), "blackList": True, "origin": "web"},
    {"id": "r3", "email": "c@y.org", "firstName": "Cid", "lastName": None, "gender": 1,
     "birthDate": None, "blackList": False, "origin": "web"},
    {"id": "r4", "email": "o'neil@x.com", "firstName": "Dee", "lastName": "O'Neil", "gender": 0,
     "birthDate": dt.date(2001, 12, 31), "blackList": False, "origin": ""},
    {"id": "r5", "email": "E@X.COM", "firstName": "Eve", "lastName": "Evans", "gender": 2,
     "birthDate": dt.date(1999, 7, 4), "blackList": False, "origin": "shop"},
]


@dataclass
class Engine:
    """A real database holding the recipient table, and the way to run a compiled query on it."""

    dialect: str
    fetch: Callable[[str, list[Any]], list[tuple[Any, ...]]]

    def compile(self, query: QueryDef, schema: Schema) -> CompiledQuery:
        return compile_query(query, schema, TABLE, self.dialect)  # type: ignore[arg-type]

    def run(self, query: QueryDef, schema: Schema) -> list[tuple[Any, ...]]:
        compiled = self.compile(query, schema)
        return self.fetch(compiled.sql, compiled.params)

    def xml(self, query_xml: str, schema: Schema) -> str:
        """Parse, compile, execute and shape a <queryDef>; the result as XML text."""
        query = parse_query_def(etree.fromstring(query_xml))
        compiled = self.compile(query, schema)
        rows = self.fetch(compiled.sql, compiled.params)
        return etree.tostring(rows_to_xml(query, query.schema_short_name, compiled.columns, rows), encoding="unicode")

    def row_count(self) -> int:
        return int(self.fetch("SELECT count(*) FROM " + TABLE, [])[0][0])


@pytest.fixture(scope="session")
def recipient() -> Schema:
    """nms:recipient as a registry serves it (staged: `id` first)."""
    schema = SchemaRegistry(builtin_schemas()).get("nms:recipient")
    assert schema is not None
    return schema


def _insert_sql(schema: Schema, placeholder: str) -> str:
    names = ", ".join(f'"{a.name}"' for a in schema.attributes)
    marks = ", ".join(placeholder for _ in schema.attributes)
    return f"INSERT INTO {TABLE} ({names}) VALUES ({marks})"


def _values(schema: Schema) -> list[list[Any]]:
    return [[row.get(a.name) for a in schema.attributes] for row in ROWS]


def duckdb_engine(schema: Schema) -> tuple[Engine, duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(":memory:")
    columns = ", ".join(f'"{a.name}" {DUCKDB_TYPES[a.type]}' for a in schema.attributes)
    conn.execute(f"CREATE TABLE {TABLE} ({columns})")
    conn.executemany(_insert_sql(schema, "?"), _values(schema))

    def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return conn.execute(sql, params).fetchall()

    return Engine("duckdb", fetch), conn


def postgres_engine(schema: Schema, url: str) -> tuple[Engine, psycopg.Connection[Any]]:
    conn = psycopg.connect(url, autocommit=True)
    columns = ", ".join(f'"{a.name}" {PG_TYPES[a.type]}' for a in schema.attributes)
    conn.execute(f"CREATE TABLE {TABLE} ({columns})")
    with conn.cursor() as cur:
        cur.executemany(_insert_sql(schema, "%s"), _values(schema))

    def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    return Engine("postgres", fetch), conn


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest, recipient: Schema, new_database: Callable[[], str]) -> Iterator[Engine]:
    """The same rows in a real DuckDB (in memory) and a real PostgreSQL table (fresh database), shared read-only
    by the tests of a module."""
    if request.param == "duckdb":
        made, duck = duckdb_engine(recipient)
        yield made
        duck.close()
    else:
        made, pg = postgres_engine(recipient, new_database())
        yield made
        pg.close()


@pytest.fixture(params=["duckdb", "postgres"])
def fresh_engine(request: pytest.FixtureRequest, recipient: Schema) -> Iterator[Engine]:
    """A per-test engine (PostgreSQL on a fresh database from `database_url`), for tests that try to damage it."""
    if request.param == "duckdb":
        made, duck = duckdb_engine(recipient)
        yield made
        duck.close()
    else:
        made, pg = postgres_engine(recipient, request.getfixturevalue("database_url"))
        yield made
        pg.close()
