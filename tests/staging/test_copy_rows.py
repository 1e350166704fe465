"""Rows encoded by ferry for binary COPY are the rows psycopg's `write_row` stages, value for value."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from every_type_schema import EVERY_TYPE
from ferry.ingest import Call, Method, build_call, inserts, records_from_json
from ferry.schema.loader import parse_schema
from ferry.staging import StagingDatabase
from ferry.staging import store as store_module

INSERTS: list[dict[str, Any]] = [
    {"s": "tab\there\\back", "m": "line\nline\r\nend \\N \\. é 😀 \u2028", "u": "ABC12345", "b": "true", "by": "-128",
     "sh": "32767", "l": "-2147483648", "i": 7, "big": "9223372036854775807", "d": "1.5e300", "f": -0.0,
     "day": "2024-02-29", "ts": "2024-01-02T03:04:05.678Z", "tz": "2024-06-01T12:00:00+02:00",
     "naive": "2024-01-02 03:04:05.123456", "tm": "12:34:56.789"},
    {"s": "", "m": "", "b": "", "by": "", "d": "", "day": "", "ts": "", "naive": "", "tm": "", "id": "sent-id"},
    {"s": "only", "b": False, "d": 1e-300, "big": -(2**63), "day": "0001-01-01", "ts": "9999-12-31T23:59:59Z"},
    {"m": None, "i": None, "f": 3},
    {},
]
EXT: list[dict[str, Any]] = [
    {"_key": "@s", "_operation": "update", "s": "only", "d": 2.25},
    {"_key": "@s,@i", "_operation": "delete", "s": "only", "i": 7},
    {"_key": "@s", "s": "new", "ts": "2024-01-02T03:04:05"},
]
SKIP = ("_seq", "_received_at")


@pytest.fixture
def every_db(staging_db: StagingDatabase) -> StagingDatabase:
    staging_db.catalog.apply(parse_schema(EVERY_TYPE))
    staging_db.reload_schemas()
    return staging_db


def staged(db: StagingDatabase, copy: Any, calls: list[Call]) -> list[dict[str, Any]]:
    """The rows `copy(conn, layout-or-schema, calls)` stages, read back; the table emptied after."""
    schema = db.registry.get("cus:every")
    assert schema is not None
    with db.pool.connection() as conn, conn.transaction():
        assert conn.info.encoding == "utf-8"  # so `_copy_rows` encodes the rows itself
        copy(conn, schema, calls)
    with psycopg.connect(db.url, row_factory=dict_row) as conn:
        found = conn.execute("SELECT * FROM ferry_stg.cus_every ORDER BY _seq").fetchall()
        conn.execute("TRUNCATE ferry_stg.cus_every")
    return [{k: v for k, v in row.items() if k not in SKIP} for row in found]


def by_psycopg(conn: psycopg.Connection[Any], schema: Any, calls: list[Call]) -> None:
    store_module._write_rows(conn, store_module._layout(schema), calls)


def test_encoded_rows_are_the_rows_psycopg_writes(every_db: StagingDatabase) -> None:
    calls = [build_call(every_db.registry, Method.INGEST, records_from_json(INSERTS, default_schema="cus:every")),
             build_call(every_db.registry, Method.INGEST_EXT, records_from_json(EXT, default_schema="cus:every"))]
    mine = staged(every_db, store_module._copy_rows, calls)
    assert mine == staged(every_db, by_psycopg, calls)
    assert len(mine) == len(INSERTS) + len(EXT)
    assert mine[0]["s"] == "tab\there\\back" and mine[0]["m"] == INSERTS[0]["m"]
    assert mine[3]["m"] == "" and mine[3]["i"] is None and mine[3]["f"] == 3.0


def test_plain_inserts_read_from_their_columns_stage_what_their_operations_would(every_db: StagingDatabase) -> None:
    fast = inserts.mapping_call(every_db.registry, INSERTS, "cus:every", operator=None, origin="api",
                                max_records=None)
    assert fast is not None
    # The same call with its operations as a tuple: the general encoding, and psycopg's.
    general = dataclasses.replace(fast, operations=tuple(fast.operations))
    mine = staged(every_db, store_module._copy_rows, [fast])
    assert mine == staged(every_db, store_module._copy_rows, [general])
    assert mine == staged(every_db, by_psycopg, [general])
    assert [row["_uuid"] for row in mine] == [op.uuid for op in fast.operations]
    assert [row["id"] for row in mine] == [op.values["id"] for op in fast.operations]
    assert mine[1]["id"] == "sent-id" and all(row["_op"] == "insert" and row["_key"] is None for row in mine)
