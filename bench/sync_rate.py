"""Sync rate: N staged rows of nms:recipient into a DuckDB or PostgreSQL warehouse; then one 100k-row upsert batch.

    python bench/sync_rate.py --rows 1000000 --warehouse duckdb [--admin-url postgresql://postgres@127.0.0.1/postgres]

Stages N keyless inserts directly with SQL (the write path has its own bench), syncs them with the default batch
size and reports rows/s and memory (peak and per-batch RSS); then stages `--upsert` IngestExt insertOrUpdate rows
keyed on @email (half hit existing records, half are new) and times their sync as one batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.sync import RunResult, run_once
from ferry.warehouse import open_warehouse


def rss_mb() -> float:
    """Current resident set size in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """Peak resident set size of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# What ferry's ingest gives a staged row since issue 23: a time-ordered UUID (version 7: milliseconds, version,
# counter, variant, random), here the milliseconds of now plus one per 4,096 rows of `g` (PostgreSQL 15 has no
# uuidv7()). Staged rows' UUIDs become new records' ids, so the warehouse's `id` index sees what it would in use.
UUID7_SQL = ("(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint + g / 4096), 12, '0') "
             "|| '7' || lpad(to_hex(g %% 4096), 3, '0') || '8' || substr(md5(random()::text), 1, 15))::uuid")

# The same layout a day earlier, for the records preloaded into a warehouse (no query parameters: `%` unescaped).
PRELOAD_UUID7_SQL = UUID7_SQL.replace("%%", "%").replace("* 1000)::bigint", "* 1000)::bigint - 86400000")


def stage_inserts(db: StagingDatabase, rows: int, start: int, op: str, key: list[str] | None) -> None:
    """Stage rows with SQL, 200k per statement: emails e{start}..e{start+rows-1}@x.test."""
    request = uuid.uuid4()
    with db.pool.connection() as conn:
        conn.execute("INSERT INTO ferry.requests (id, schema_id, method, record_count, origin) "
                     "VALUES (%s, 'nms:recipient', 'IngestExt', %s, 'bench')", (request, rows))
        for lo in range(start, start + rows, 200_000):
            hi = min(start + rows, lo + 200_000) - 1
            conn.execute(
                "INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _key, _present, id, email, "  # noqa: S608
                "\"firstName\", \"lastName\", gender, \"blackList\") "
                "SELECT u, %s, %s, %s, "
                "CASE WHEN %s = 'insert' THEN ARRAY['id','email','firstName','lastName','gender','blackList'] "
                "ELSE ARRAY['email','firstName','lastName','gender','blackList'] END, "
                "CASE WHEN %s = 'insert' THEN u::text END, 'e' || g || '@x.test', 'First' || g, 'Last' || (g %% 977), "
                "(g %% 3)::smallint, g %% 50 = 0 "
                f"FROM (SELECT g, {UUID7_SQL} AS u FROM generate_series(%s::bigint, %s::bigint) g) s",
                (request, op, key, op, op, lo, hi))


def stage_mixed(db: StagingDatabase, existing: int, rows: int) -> None:
    """Stage `rows` changes: 70% inserts of new keys, 20% updates and 10% deletes of keys e0..e{existing-1}."""
    inserts, updates = rows * 7 // 10, rows * 2 // 10
    deletes = rows - inserts - updates
    stage_inserts(db, inserts, existing + 10_000_000, "insert", None)
    stage_inserts(db, updates, 0, "insertOrUpdate", ["email"])
    with db.pool.connection() as conn:
        request = uuid.uuid4()
        conn.execute("INSERT INTO ferry.requests (id, schema_id, method, record_count, origin) "
                     "VALUES (%s, 'nms:recipient', 'IngestExt', %s, 'bench')", (request, deletes))
        conn.execute("INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _key, _present, email) "
                     "SELECT gen_random_uuid(), %s, 'delete', ARRAY['email'], ARRAY['email'], 'e' || g || '@x.test' "
                     "FROM generate_series(%s::bigint, %s::bigint) g", (request, updates, updates + deletes - 1))


def timed_sync(db: StagingDatabase, url: str, settings: Settings, label: str) -> RunResult:
    """One run of the workflow, with per-batch RSS."""
    warehouse = open_warehouse(url)
    samples: list[float] = []
    started = time.perf_counter()
    try:
        result = run_once(db, warehouse, "nms:recipient", settings, progress=lambda r: samples.append(rss_mb()))
    finally:
        warehouse.close()
    seconds = time.perf_counter() - started
    read = result.counts["read"]
    print(f"{label}: {result.state} {read} rows in {seconds:.1f}s = {read / seconds:,.0f} rows/s, "
          f"{result.batches} batches, counts {result.counts}")
    if samples:
        print(f"  RSS per batch (MB): first {samples[0]:.0f}, max {max(samples):.0f}, last {samples[-1]:.0f}; "
              f"peak RSS {peak_mb():.0f} MB")
    if result.error:
        print("  error:", result.error)
    return result


def preload(db: StagingDatabase, url: str, rows: int) -> None:
    """Fill the warehouse table with `rows` records straight away (emails e0..e{rows-1}@x.test)."""
    schema = db.registry.get("nms:recipient")
    assert schema is not None
    warehouse = open_warehouse(url)
    warehouse.ensure_table(schema)
    warehouse.close()
    t0 = time.perf_counter()
    # The records of a ferry warehouse carry time-ordered ids (its own sync made them, issue 23): the preloaded ones
    # too, a day old, so the new records' ids extend the `id` index on its right, as they do in use.
    select = ("SELECT {uuid}, 'e' || g || '@x.test', 'First' || g, 'Last' || (g % 977), 0, false, now(), now() "
              "FROM {series}")
    statement = ('INSERT INTO nms_recipient (id, email, "firstName", "lastName", gender, "blackList", created, '
                 '"lastModified") ')
    if url.startswith("duckdb"):
        import duckdb

        with duckdb.connect(url.split("://", 1)[1].split("?", 1)[0]) as con:
            con.execute(statement + select.format(uuid="uuidv7()::varchar", series=f"range({rows}) t(g)"))
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement + select.format(uuid=PRELOAD_UUID7_SQL + "::text",
                                                    series=f"generate_series(0, {rows - 1}) g"))
            conn.execute("ANALYZE nms_recipient")
    print(f"preloaded {rows} warehouse records in {time.perf_counter() - t0:.1f}s")


@contextmanager
def bench_databases(admin_url: str, warehouse: str, duckdb_options: str = "") -> Iterator[tuple[Settings, str]]:
    """A fresh staging database (its settings) and warehouse (its URL: a DuckDB file or a PostgreSQL database),
    dropped at the end."""
    run = uuid.uuid4().hex[:8]
    names = [f"ferry_bench_stg_{run}", f"ferry_bench_wh_{run}"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    tmp = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    if warehouse == "duckdb":
        url = f"duckdb:///{tmp / 'warehouse.duckdb'}" + (f"?{duckdb_options}" if duckdb_options else "")
    else:
        url = admin_url.rsplit("/", 1)[0] + "/" + names[1]
    try:
        yield Settings.from_env(database_url=make_conninfo(admin_url, dbname=names[0]), data_dir=tmp), url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        shutil.rmtree(tmp, ignore_errors=True)  # the DuckDB warehouse file (tens of MB at full size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--upsert", type=int, default=100_000)
    parser.add_argument("--warehouse", choices=["duckdb", "postgresql"], default="duckdb")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--duckdb-options", default="",
                        help="Query string for the DuckDB warehouse URL, e.g. memory_limit=256MB&threads=2.")
    parser.add_argument("--preload", type=int, default=0,
                        help="Fill the warehouse table directly with this many records instead of syncing --rows "
                        "(for the 100k-batch-into-10M-rows measure).")
    args = parser.parse_args()

    with bench_databases(args.admin_url, args.warehouse, args.duckdb_options) as (settings, url), \
            StagingDatabase.open(settings) as db:
        if args.preload:
            preload(db, url, args.preload)
            args.rows = args.preload
        else:
            t0 = time.perf_counter()
            stage_inserts(db, args.rows, 0, "insert", None)
            print(f"staged {args.rows} rows in {time.perf_counter() - t0:.1f}s; batch_rows={settings.batch_rows}")
            timed_sync(db, url, settings, f"sync {args.rows} inserts into {args.warehouse}")
        if args.upsert:
            half = args.upsert // 2
            stage_inserts(db, args.upsert, args.rows - half, "insertOrUpdate", ["email"])
            one_batch = dataclasses.replace(settings, batch_rows=args.upsert, batch_bytes=1 << 40)
            timed_sync(db, url, one_batch,
                       f"one {args.upsert}-row insertOrUpdate batch into a {args.rows}-row {args.warehouse} table")


if __name__ == "__main__":
    main()
