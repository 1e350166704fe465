"""Cost of the sync's staging-side statements on N staged rows, each alone in a rolled-back transaction.

    python bench/staging_updates.py [--rows 60000]

Stages N mixed nms:recipient rows (as `bench/run`'s sync scenario does) and times the claim's SELECT, the two
per-row UPDATEs the sync makes (claim stamps `_batch_id`, mark sets `_state`/`_done_at`) and a plain read.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import tempfile
import time
from pathlib import Path

import psycopg

TABLE = "ferry_stg.nms_recipient"  # literal in the statements below
STATEMENTS = {
    "claim SELECT (size + window)": "SELECT _seq, sum(pg_column_size(t.*)) OVER (ORDER BY _seq) "
                                    "FROM ferry_stg.nms_recipient t WHERE _state = 'staged' AND _batch_id IS NULL "
                                    "ORDER BY _seq",
    "UPDATE SET _batch_id (claim)": "UPDATE ferry_stg.nms_recipient SET _batch_id = gen_random_uuid()",
    "UPDATE SET _state, _done_at (mark)": "UPDATE ferry_stg.nms_recipient SET _state = 'synced', _done_at = now()",
    "SELECT * (read)": "SELECT * FROM ferry_stg.nms_recipient",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    args = parser.parse_args()
    loader = importlib.machinery.SourceFileLoader("bench_run", str(Path(__file__).with_name("run")))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    assert spec is not None
    bench = importlib.util.module_from_spec(spec)
    loader.exec_module(bench)
    dbs = bench.Databases()
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = dbs.new("stg")
            with bench.staging(url, Path(folder)) as db:
                bench.stage_mixed(db, args.rows * 3 // 10, args.rows)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"VACUUM ANALYZE {TABLE}")
                for label, statement in STATEMENTS.items():
                    started = time.perf_counter()
                    conn.execute("BEGIN")
                    rows = conn.execute(statement).rowcount  # type: ignore[arg-type]
                    conn.execute("ROLLBACK")
                    seconds = time.perf_counter() - started
                    print(f"{label}: {seconds:.2f} s for {rows} rows ({rows / seconds:,.0f} rows/s)")
    finally:
        dbs.drop()


if __name__ == "__main__":
    main()
