"""Staging write rates: unitary calls through the Python API, and a bulk NDJSON file through `ferry ingest`.

Usage: python bench/staging_rate.py [--calls N] [--threads T] [--rows R] [--database-url URL]
Prints one JSON object per scenario: rows/s, and the anchor (single-row INSERT+COMMIT or COPY) measured alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from ferry.config import Settings
from ferry.session import Session


def fresh_database(admin_url: str) -> str:
    name = f"ferry_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def _timed_threads(work: Callable[[int], None], threads: int) -> float:
    """Seconds for `threads` threads each running `work(n)`."""
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def unitary(url: str, calls: int, threads: int) -> float:
    """Ingest calls/s from `threads` threads, one call (one transaction) each."""
    with Session.open(Settings.from_env(database_url=url, pool_size=threads + 1)) as session:
        per_thread = calls // threads

        def work(offset: int) -> None:
            for i in range(per_thread):
                session.ingest({"xtkschema": "nms:recipient", "email": f"{offset}-{i}@x.com", "firstName": "A"})

        return per_thread * threads / _timed_threads(work, threads)


def anchor_insert(url: str, calls: int, threads: int) -> float:
    """Single-row INSERT+COMMIT into the same staging table from `threads` connections."""
    per_thread = calls // threads

    def work(offset: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(per_thread):
                conn.execute(
                    "INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _present, id, email) "
                    "VALUES (%s, %s, 'insert', %s, %s, %s)",
                    (uuid.uuid4(), uuid.uuid4(), ["id", "email"], str(uuid.uuid4()), f"a{offset}-{i}@x"),
                )

    return per_thread * threads / _timed_threads(work, threads)


def bulk(url: str, rows: int) -> dict[str, float]:
    """`ferry ingest` of an NDJSON file of `rows` records, in a subprocess (rows/s, peak RSS MB)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.ndjson"
        with path.open("w") as out:
            for i in range(rows):
                out.write(json.dumps({"email": f"user{i}@example.com", "firstName": "Ann", "lastName": "Lee",
                                      "gender": i % 3, "birthDate": "1990-04-05"}) + "\n")
        env = {**os.environ, "FERRY_DATABASE_URL": url}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ferry.cli", "ingest", str(path), "--schema", "nms:recipient"],
                       env=env, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {"rows_per_s": rows / seconds, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("FERRY_TEST_DATABASE_URL",
                                                                  "postgresql://postgres@127.0.0.1/postgres"))
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    Session.open(Settings.from_env(database_url=url)).close()
    ferry_rate = unitary(url, args.calls, args.threads)
    anchor_rate = anchor_insert(url, args.calls, args.threads)
    print(json.dumps({"scenario": "python-api-unitary", "threads": args.threads, "ferry": round(ferry_rate),
                      "anchor": round(anchor_rate), "ratio": round(ferry_rate / anchor_rate, 2), "unit": "calls/s"}))
    print(json.dumps({"scenario": "ferry-ingest-ndjson", "rows": args.rows, **{k: round(v, 1) for k, v in
                                                                              bulk(url, args.rows).items()}}))


if __name__ == "__main__":
    main()
