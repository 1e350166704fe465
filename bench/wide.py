"""The wide keyed workload (issue 23): keyed operations carrying a few attributes of `nms:recipient`.

`--upserts` insertOrUpdate by `_key="@email"` carrying email, firstName, lastName (new keys), then `--changes` rows
keyed on email: 70% updates carrying lastName, 30% deletes, of keys upserted before (each key once). ferry syncs them
from its staging log into the wide table; the limit anchor holds the same operations in a plain PostgreSQL table with
only those columns, reads them over ADBC, folds them per email in DuckDB and MERGEs them by hand.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from children import merge_by_hand, read_and_fold
from sync_rate import UUID7_SQL

# `g` runs over 0..upserts-1 for the upserts and over 0..changes-1 for the changes: a change's key is
# e((g * 7919) mod upserts), spread over the upserted ones and each once (7919 is prime, coprime with the counts
# used); 70% update (carrying lastName), 30% delete.


def split(rows: int) -> tuple[int, int]:
    """(upserts, changes) of a workload of `rows` operations: 3/4 upserts, 1/4 changes."""
    upserts = rows * 3 // 4
    return upserts, rows - upserts


def expected_rows(rows: int) -> int:
    """Records after the workload into an empty table: every upserted key, less the deleted ones."""
    upserts, changes = split(rows)
    return upserts - sum(1 for g in range(changes) if g % 10 >= 7)


def stage_wide(db: Any, rows: int) -> None:
    """Stage the workload in ferry's log with SQL (the rows `ferry ingest --ext` would write; its own bench times
    the write path)."""
    upserts, changes = split(rows)
    with db.pool.connection() as conn:
        request = uuid.uuid4()
        conn.execute("INSERT INTO ferry.requests (id, schema_id, method, record_count, origin) "
                     "VALUES (%s, 'nms:recipient', 'IngestExt', %s, 'bench')", (request, rows))
        conn.execute(
            "INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _key, _present, email, \"firstName\", "  # noqa: S608
            f"\"lastName\") SELECT {UUID7_SQL}, %s, 'insertOrUpdate', ARRAY['email'], "
            "ARRAY['email', 'firstName', 'lastName'], 'e' || g || '@x.test', 'First' || g, 'Last' || (g %% 977) "
            "FROM generate_series(0, %s - 1) g", (request, upserts))
        conn.execute(
            "INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _key, _present, email, \"lastName\") "
            "SELECT gen_random_uuid(), %s, CASE WHEN g %% 10 < 7 THEN 'update' ELSE 'delete' END, ARRAY['email'], "
            "CASE WHEN g %% 10 < 7 THEN ARRAY['email', 'lastName'] ELSE ARRAY['email'] END, "
            "'e' || ((g * 7919) %% %s) || '@x.test', CASE WHEN g %% 10 < 7 THEN 'Moved' || g END "
            "FROM generate_series(0, %s - 1) g", (request, upserts, changes))
        conn.execute("VACUUM ANALYZE ferry_stg.nms_recipient")


def stage_wide_ops(url: str, rows: int) -> None:
    """The limit's input: the same operations in a plain table holding only their columns."""
    upserts, changes = split(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE TABLE ops (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, op text NOT NULL, '
                     'email text NOT NULL, "firstName" text, "lastName" text)')
        conn.execute("INSERT INTO ops (op, email, \"firstName\", \"lastName\") SELECT 'insertOrUpdate', "
                     "'e' || g || '@x.test', 'First' || g, 'Last' || (g %% 977) FROM generate_series(0, %s - 1) g",
                     (upserts,))
        conn.execute("INSERT INTO ops (op, email, \"lastName\") SELECT CASE WHEN g %% 10 < 7 THEN 'update' "
                     "ELSE 'delete' END, 'e' || ((g * 7919) %% %s) || '@x.test', CASE WHEN g %% 10 < 7 THEN "
                     "'Moved' || g END FROM generate_series(0, %s - 1) g", (upserts, changes))
        conn.execute("VACUUM ANALYZE ops")


# Per attribute the last value an operation carried (a NULL is an attribute the operation did not carry), deleted
# when the last operation deletes.
FOLD_WIDE = ('SELECT uuid()::varchar AS id, email, arg_max("firstName", seq) FILTER (WHERE "firstName" IS NOT NULL) '
             'AS "firstName", arg_max("lastName", seq) FILTER (WHERE "lastName" IS NOT NULL) AS "lastName", '
             "arg_max(op, seq) = 'delete' AS deleted FROM ops GROUP BY email")
MERGE_WIDE = ('MERGE INTO t USING b ON t.email = b.email '
              'WHEN MATCHED AND b.deleted THEN DELETE '
              'WHEN MATCHED THEN UPDATE SET "firstName" = coalesce(b."firstName", t."firstName"), '
              '"lastName" = coalesce(b."lastName", t."lastName") '
              'WHEN NOT MATCHED AND NOT b.deleted THEN INSERT (id, email, "firstName", "lastName") '
              'VALUES (b.id, b.email, b."firstName", b."lastName")')
COLUMNS_WIDE = 'id text, email text, "firstName" text, "lastName" text'


def limit_wide_child(args: dict[str, Any]) -> dict[str, Any]:
    """The limit: read, fold and MERGE by hand into a table of those columns (timed from the read to the commit)."""
    seconds, count = merge_by_hand(
        args["warehouse"], COLUMNS_WIDE, MERGE_WIDE,
        lambda: read_and_fold(args["ops"], 'seq, op, email, "firstName", "lastName"', FOLD_WIDE))
    return {"seconds": seconds, "rows_after": count, "expected": expected_rows(args["rows"])}
