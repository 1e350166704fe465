"""Measured steps run in a fresh process (`bench/run --child KIND ARGS`): ferry's sync, dlt, a raw MERGE."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg


def run_child(kind: str, args: dict[str, Any]) -> None:
    import resource

    if kind == "ferry-sync":
        from ferry.config import Settings
        from ferry.staging import StagingDatabase
        from ferry.sync import run_once
        from ferry.warehouse import open_warehouse

        batch = {} if args["batch_rows"] is None else {"batch_rows": args["batch_rows"], "batch_bytes": 1 << 40}
        settings = Settings.from_env(database_url=args["staging"], data_dir=args["tmp"], **batch)
        stages = os.environ.get("FERRY_BENCH_STAGES")  # a folder: each sync's stage timers and cProfile go there
        if stages:
            import cProfile

            import sync_stages

            sync_stages.instrument("duckdb" if args["warehouse"].startswith("duckdb") else "postgresql")
            profile = cProfile.Profile()
        with StagingDatabase.open(settings) as db:
            warehouse = open_warehouse(args["warehouse"])
            if stages:
                profile.enable()
            started = time.perf_counter()
            result = run_once(db, warehouse, "nms:recipient", settings)
            seconds = time.perf_counter() - started
            if stages:
                profile.disable()
                engine = "duckdb" if args["warehouse"].startswith("duckdb") else "postgresql"
                name = Path(stages) / f"{engine}-{uuid.uuid4().hex[:6]}"
                profile.dump_stats(f"{name}.prof")
                Path(f"{name}.txt").write_text(sync_stages.table(seconds, int(result.counts["read"])))
            # Untimed, as the anchors' own: DuckDB checkpoints what its WAL still holds when the file closes.
            closing = time.perf_counter()
            warehouse.close()
            closing = time.perf_counter() - closing
        if result.state != "succeeded":
            raise SystemExit(f"sync {result.state}: {result.error} {result.counts}")
        out: dict[str, Any] = {"seconds": seconds, "counts": result.counts, "batches": result.batches,
                               "close_seconds": closing}
    elif kind == "dlt":
        out = dlt_child(args)
    elif kind == "dlt-sql":
        out = dlt_sql_child(args)
    elif kind in ("merge", "limit"):
        out = merge_child(args)
    elif kind == "limit-wide":
        from wide import limit_wide_child

        out = limit_wide_child(args)
    else:
        raise SystemExit(f"unknown child {kind}")
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out, default=str))


def folded(existing: int, rows: int, with_existing: bool) -> tuple[Any, Any]:
    """The already-folded net changes as Arrow (a `deleted` flag marks deletes), and the warehouse's existing rows."""
    import pyarrow as pa

    def table(numbers: range, deleted: bool) -> pa.Table:
        return pa.table({
            "id": [str(uuid.uuid4()) for _ in numbers], "email": [f"e{g}@x.test" for g in numbers],
            "firstName": [f"First{g}" for g in numbers], "lastName": [f"Last{g % 977}" for g in numbers],
            "gender": pa.array([g % 3 for g in numbers], pa.int16()),
            "blackList": [g % 50 == 0 for g in numbers], "deleted": pa.array([deleted] * len(numbers))})

    inserts, updates = rows * 7 // 10, rows * 2 // 10
    batch = pa.concat_tables([table(range(existing + 10_000_000, existing + 10_000_000 + inserts), False),
                              table(range(0, updates), False), table(range(updates, rows - inserts), True)])
    return batch, table(range(existing), False) if with_existing else None


def with_password(url: str) -> str:
    """dlt insists on a password; a trust-authenticated server ignores this one."""
    scheme, rest = url.split("://", 1)
    user, at, host = rest.partition("@")
    return url if not at or ":" in user else f"{scheme}://{user}:unused@{host}"


def dlt_child(args: dict[str, Any]) -> dict[str, Any]:
    import dlt

    batch, existing = folded(args["existing"], args["rows"], True)
    url = args["warehouse"]
    destination = (dlt.destinations.duckdb("/" + url.split("://", 1)[1].lstrip("/")) if url.startswith("duckdb")
                   else dlt.destinations.postgres(credentials=with_password(url)))
    pipeline = dlt.pipeline(pipeline_name=f"bench_{uuid.uuid4().hex[:6]}", destination=destination,
                            dataset_name="anchor", pipelines_dir=str(Path(args["tmp"]) / "dlt"), progress=None)
    hints: dict[str, Any] = {"write_disposition": "merge", "primary_key": "email",
                             "columns": {"deleted": {"hard_delete": True}}, "table_name": "nms_recipient"}
    pipeline.run(existing, **hints)  # the warehouse's existing rows, untimed
    started = time.perf_counter()
    pipeline.run(batch, **hints)
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        count = client.execute_sql("SELECT count(*) FROM nms_recipient")[0][0]
    return {"seconds": seconds, "rows_after": count, "expected": expected_rows(args["existing"], args["rows"])}


def dlt_sql_child(args: dict[str, Any]) -> dict[str, Any]:
    """dlt end to end from staging: its `sql_table` source (pyarrow backend) reads ferry's staging table, a map adds
    the hard-delete flag, the merge disposition keeps the last operation per key (`dedup_sort` on `_seq`)."""
    import dlt
    import pyarrow.compute as pc
    import sqlalchemy
    from dlt.sources.sql_database import sql_table

    _, existing = folded(args["existing"], args["rows"], True)
    url = args["warehouse"]
    destination = (dlt.destinations.duckdb("/" + url.split("://", 1)[1].lstrip("/")) if url.startswith("duckdb")
                   else dlt.destinations.postgres(credentials=with_password(url)))
    pipeline = dlt.pipeline(pipeline_name=f"bench_{uuid.uuid4().hex[:6]}", destination=destination,
                            dataset_name="anchor", pipelines_dir=str(Path(args["tmp"]) / "dlt"), progress=None)
    hints: dict[str, Any] = {"write_disposition": "merge", "primary_key": "email", "table_name": "nms_recipient"}
    import pyarrow as pa

    # The existing rows, untimed, with the staging columns the source brings (NOT NULL there).
    existing = existing.append_column("_seq", pa.array([0] * existing.num_rows, pa.int64()))
    existing = existing.append_column("_op", pa.array(["insert"] * existing.num_rows))
    pipeline.run(existing, columns={"deleted": {"hard_delete": True}}, **hints)
    engine = sqlalchemy.create_engine(args["staging"].replace("postgresql://", "postgresql+psycopg2://", 1))
    started = time.perf_counter()
    source = sql_table(credentials=engine, schema="ferry_stg", table="nms_recipient", backend="pyarrow",
                       chunk_size=50_000, included_columns=["_seq", "_op", "id", "email", "firstName", "lastName",
                                                            "gender", "blackList"])
    source.add_map(lambda t: t.append_column("deleted", pc.equal(t["_op"], "delete")))
    pipeline.run(source, columns={"deleted": {"hard_delete": True}, "_seq": {"dedup_sort": "desc"}}, **hints)
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        count = client.execute_sql("SELECT count(*) FROM nms_recipient")[0][0]
    return {"seconds": seconds, "rows_after": count, "expected": expected_rows(args["existing"], args["rows"])}


def expected_rows(existing: int, rows: int) -> int:
    """Rows in the warehouse after the mixed batch: existing + inserts - deletes."""
    return existing + rows * 7 // 10 - (rows - rows * 7 // 10 - rows * 2 // 10)


OPS_COLUMNS = 'seq, op, id, email, "firstName", "lastName", gender, "blackList"'


def stage_ops(url: str, existing: int, rows: int) -> None:
    """The limit anchor's input: the same operations as `stage_mixed` in a plain table (seq, op, columns)."""
    inserts, updates = rows * 7 // 10, rows * 2 // 10
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE TABLE ops (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, op text NOT NULL, '
                     'id text, email text NOT NULL, "firstName" text, "lastName" text, gender smallint, '
                     '"blackList" boolean)')
        values = ("'e' || g || '@x.test', 'First' || g, 'Last' || (g %% 977), (g %% 3)::smallint, g %% 50 = 0 "
                  "FROM generate_series(%s::bigint, %s::bigint) g")
        conn.execute(f"INSERT INTO ops (op, id, email, \"firstName\", \"lastName\", gender, \"blackList\") "
                     f"SELECT 'insert', gen_random_uuid()::text, {values}",
                     (existing + 10_000_000, existing + 10_000_000 + inserts - 1))
        conn.execute(f"INSERT INTO ops (op, id, email, \"firstName\", \"lastName\", gender, \"blackList\") "
                     f"SELECT 'insertOrUpdate', NULL, {values}", (0, updates - 1))
        conn.execute("INSERT INTO ops (op, email) SELECT 'delete', 'e' || g || '@x.test' "
                     "FROM generate_series(%s::bigint, %s::bigint) g", (updates, rows - inserts - 1))
        conn.execute("ANALYZE ops")


def read_and_fold(url: str, columns: str, fold_sql: str) -> Any:
    """Read `columns` of every operation in table `ops` over ADBC into Arrow (one binary COPY), then fold them per
    key in DuckDB with `fold_sql` (a query over `ops` giving the net change per key, a delete as a `deleted` flag)."""
    import adbc_driver_postgresql.dbapi as adbc
    import duckdb

    with adbc.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM ops")  # noqa: S608 - constants of the bench's modules, not input
        ops = cur.fetch_arrow_table()
    con = duckdb.connect()
    con.register("ops", ops)
    folded_ops = con.execute(fold_sql).to_arrow_table()
    con.close()
    return folded_ops


# The mixed workload's fold: the last op per key wins (an insertOrUpdate of a new key inserts it, of an existing
# key updates it).
FOLD_MIXED = ('SELECT coalesce(id, uuid()::varchar) AS id, email, "firstName", "lastName", gender::smallint AS gender, '
              '"blackList", op = \'delete\' AS deleted FROM ops '
              'QUALIFY row_number() OVER (PARTITION BY email ORDER BY seq DESC) = 1')
MERGE_MIXED = ('MERGE INTO t USING b ON t.email = b.email '
               'WHEN MATCHED AND b.deleted THEN DELETE '
               'WHEN MATCHED THEN UPDATE SET "firstName" = b."firstName", "lastName" = b."lastName", '
               'gender = b.gender, "blackList" = b."blackList" '
               'WHEN NOT MATCHED AND NOT b.deleted THEN INSERT (id, email, "firstName", "lastName", gender, '
               '"blackList") VALUES (b.id, b.email, b."firstName", b."lastName", b.gender, b."blackList")')
COLUMNS_MIXED = 'id text, email text, "firstName" text, "lastName" text, gender smallint, "blackList" boolean'


def merge_child(args: dict[str, Any]) -> dict[str, Any]:
    """Hand-written: bulk-load the folded batch into a temporary table, then one MERGE (timed together); the limit
    anchor (`ops` given) reads and folds the operations inside the timing."""
    batch, existing = folded(args["existing"], args["rows"], True)
    source = ((lambda: read_and_fold(args["ops"], OPS_COLUMNS, FOLD_MIXED)) if args.get("ops")
              else (lambda: batch))
    seconds, count = merge_by_hand(args["warehouse"], COLUMNS_MIXED, MERGE_MIXED, source, existing)
    return {"seconds": seconds, "rows_after": count, "expected": expected_rows(args["existing"], args["rows"])}


def merge_by_hand(url: str, columns: str, merge: str, source: Callable[[], Any], existing: Any = None
                  ) -> tuple[float, int]:
    """Table `t (columns)` keyed on email holding the `existing` rows (untimed), then, timed: `source()` (the folded
    batch as Arrow), bulk-loaded into a temporary table `b (columns, deleted)` and MERGEd by `merge`, committed
    (DuckDB: Arrow → temp table; PostgreSQL: CSV `COPY`). Returns the seconds and the rows of `t` after."""
    import pyarrow.csv as pacsv

    staged = f"{columns}, deleted boolean"
    if url.startswith("duckdb"):
        import duckdb

        con = duckdb.connect(url.split("://", 1)[1])
        if existing is not None:
            con.register("existing_rows", existing)
            con.execute("CREATE TABLE t AS SELECT * EXCLUDE (deleted) FROM existing_rows")
        else:
            con.execute(f"CREATE TABLE t ({columns})")
        started = time.perf_counter()
        con.register("arrow_batch", source())
        con.execute("BEGIN")
        con.execute(f"CREATE TEMP TABLE b ({staged})")
        con.execute("INSERT INTO b SELECT * FROM arrow_batch")
        con.execute(merge)
        con.execute("COMMIT")
        seconds = time.perf_counter() - started
        count = con.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
        con.close()
        return seconds, int(count)

    def csv(table: Any) -> bytes:
        out = io.BytesIO()
        pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False))
        return out.getvalue()

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE t ({columns})")
        if existing is not None:
            with conn.cursor().copy("COPY t FROM STDIN (FORMAT csv)") as copy:
                copy.write(csv(existing.drop_columns(["deleted"])))
        conn.execute("ALTER TABLE t ADD PRIMARY KEY (email)")
        if existing is not None:
            conn.execute("ANALYZE t")
        started = time.perf_counter()
        data = csv(source())
        with conn.transaction():
            conn.execute(f"CREATE TEMP TABLE b ({staged}) ON COMMIT DROP")
            with conn.cursor().copy("COPY b FROM STDIN (FORMAT csv)") as copy:
                copy.write(data)
            conn.execute("ANALYZE b")
            conn.execute(merge)
        seconds = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
    return seconds, int(count)
