"""The group committer's two write paths (one INSERT for small groups, COPY for big ones) stage identical rows."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from every_type_schema import EVERY_TYPE
from ferry.ingest import Call, Method, build_call, records_from_json
from ferry.schema.loader import parse_schema
from ferry.staging import StagingDatabase
from ferry.staging import store as store_module
from ferry.staging.group_commit import GroupCommitter
from ferry.staging.store import insert_calls, write_calls

RECORDS: list[dict[str, Any]] = [
    {"s": "héllo 'x' \"y\" \\ $1", "m": "line\nline", "u": "ABC12345", "b": "true", "by": "-128", "sh": "32767",
     "l": "-2147483648", "i": 7, "big": "9223372036854775807", "d": "1.5e300", "f": -0.0, "day": "2024-01-02",
     "ts": "2024-01-02T03:04:05.678Z", "tz": "2024-06-01T12:00:00+02:00", "naive": "2024-01-02 03:04:05.123456",
     "tm": "12:34:56.789"},
    {"s": "", "m": "", "b": "", "by": "", "d": "", "day": "", "ts": "", "naive": "", "tm": ""},
    {"s": "only"},
]
EXT: list[dict[str, Any]] = [
    {"_key": "@s", "_operation": "update", "s": "only", "d": 2.25},
    {"_key": "@s,@i", "_operation": "delete", "s": "only", "i": 7},
    {"_key": "@s", "s": "new", "ts": "2024-01-02T03:04:05"},
]
SKIP = ("_seq", "_uuid", "_request_id", "_received_at")


@pytest.fixture
def every_db(staging_db: StagingDatabase) -> StagingDatabase:
    staging_db.catalog.apply(parse_schema(EVERY_TYPE))
    staging_db.reload_schemas()
    return staging_db


def calls(db: StagingDatabase) -> list[Call]:
    return [
        build_call(db.registry, Method.INGEST, records_from_json(RECORDS, default_schema="cus:every"), operator="o"),
        build_call(db.registry, Method.INGEST_EXT, records_from_json(EXT, default_schema="cus:every"), origin="rest"),
        build_call(db.registry, Method.INGEST, records_from_json({"email": "a@x"}, default_schema="nms:recipient")),
    ]


def staged(db: StagingDatabase, table: str) -> list[dict[str, Any]]:
    with psycopg.connect(db.url, row_factory=dict_row) as conn:
        found = conn.execute(f"SELECT * FROM ferry_stg.{table} ORDER BY _seq").fetchall()
    return [{k: v for k, v in row.items() if k not in SKIP} for row in found]


def requests(db: StagingDatabase) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url) as conn:
        return conn.execute("SELECT schema_id, method, operator, origin, record_count FROM ferry.requests "
                            "ORDER BY received_at").fetchall()


def test_one_insert_and_copy_stage_the_same_rows(every_db: StagingDatabase) -> None:
    accepted = calls(every_db)
    with every_db.pool.connection() as conn:
        before = conn.autocommit
        assert insert_calls(conn, every_db.registry, accepted)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and conn.autocommit == before
    by_insert = staged(every_db, "cus_every"), staged(every_db, "nms_recipient"), requests(every_db)
    with every_db.pool.connection() as conn:
        with conn.transaction():
            conn.execute("TRUNCATE ferry_stg.cus_every, ferry_stg.nms_recipient, ferry.requests")
        with conn.transaction():
            write_calls(conn, every_db.registry, accepted)
    by_copy = staged(every_db, "cus_every"), staged(every_db, "nms_recipient"), requests(every_db)
    assert by_insert == by_copy
    assert [row["_op"] for row in by_insert[0]] == ["insert"] * 3 + ["update", "delete", "insertOrUpdate"]
    assert by_insert[0][0]["s"] == RECORDS[0]["s"] and by_insert[0][1]["s"] == "" and by_insert[0][1]["d"] is None


def test_the_uuids_and_request_ids_are_the_calls_own(every_db: StagingDatabase) -> None:
    accepted = calls(every_db)
    with every_db.pool.connection() as conn:
        assert insert_calls(conn, every_db.registry, accepted)
    with psycopg.connect(every_db.url) as conn:
        found = conn.execute("SELECT _uuid, _request_id FROM ferry_stg.cus_every ORDER BY _seq").fetchall()
    assert found == [(op.uuid, call.request_id) for call in accepted[:2] for op in call.operations]


def test_a_group_too_big_for_one_statement_is_left_to_copy(every_db: StagingDatabase,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_MAX_PLACEHOLDERS", 10)
    with every_db.pool.connection() as conn:
        assert not insert_calls(conn, every_db.registry, calls(every_db))
    assert staged(every_db, "cus_every") == [] and requests(every_db) == []


def test_a_refused_insert_stages_nothing_and_leaves_the_connection_usable(every_db: StagingDatabase) -> None:
    accepted = calls(every_db)
    twice = [accepted[0], accepted[0]]  # the same request id twice: the statement fails as a whole
    with every_db.pool.connection() as conn:
        before = conn.autocommit
        with pytest.raises(psycopg.errors.UniqueViolation):
            insert_calls(conn, every_db.registry, twice)
        assert conn.autocommit == before
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert staged(every_db, "cus_every") == [] and requests(every_db) == []


@pytest.mark.parametrize("size", [1, 80])
def test_the_committer_answers_after_the_rows_are_durable_on_either_path(every_db: StagingDatabase, size: int) -> None:
    records = [{"s": f"r{i}", "i": i} for i in range(size)]

    async def run() -> list[Call]:
        writer = GroupCommitter(every_db.pool, lambda: every_db.registry)
        await writer.start()
        try:
            accepted = [build_call(every_db.registry, Method.INGEST, records_from_json(records, "cus:every"))
                        for _ in range(3)]
            await asyncio.gather(*(writer.submit(call) for call in accepted))
            return accepted
        finally:
            await writer.close()

    accepted = asyncio.run(run())
    rows = staged(every_db, "cus_every")
    assert len(rows) == 3 * size
    assert sorted(r[0] for r in requests(every_db)) == ["cus:every"] * 3
    with psycopg.connect(every_db.url) as conn:
        order = conn.execute("SELECT _uuid FROM ferry_stg.cus_every ORDER BY _seq").fetchall()
    by_call = {op.uuid: (index, op.position) for index, call in enumerate(accepted) for op in call.operations}
    positions = [by_call[row[0]] for row in order]
    for index in range(3):  # records of one call keep document order
        mine = [position for owner, position in positions if owner == index]
        assert mine == list(range(1, size + 1))


@pytest.mark.parametrize("items", [(), ("id",), ("email", "firstName", "é", "a b", "x" * 300)])
def test_text_arrays_are_encoded_as_postgresql_reads_them(staging_db: StagingDatabase, items: tuple[str, ...]) -> None:
    with staging_db.pool.connection() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (a text[])")
        with cur.copy("COPY t (a) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bytea"])
            copy.write_row([store_module.text_array(items)])
        assert cur.execute("SELECT a FROM t").fetchone() == (list(items),)
