"""Where a sync's time goes: µs per row of each stage of `ferry.sync.run_once` on N mixed staged rows.

    python bench/sync_stages.py --rows 1000000 --warehouse duckdb [--admin-url postgresql://postgres@127.0.0.1/postgres]
    python bench/sync_stages.py --workload wide --rows 400000 --warehouse postgresql
    python bench/sync_stages.py --workload wide --rows 400000 --duckdb-options checkpoint_threshold=256MB

Stages the rows of `bench/run`'s sync scenario (70% new keys, 20% insertOrUpdate, 10% delete, a warehouse holding
the 30% existing keys), or with `--workload wide` those of its sync-wide scenario (`bench/wide.py`, into an empty
table), then runs one sync with a timer around each stage. The read runs on its own thread while
the previous batch is applied, so its line is not part of the wall time's sum; the others run one after another.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time
from collections.abc import Callable
from typing import Any

from sync_rate import bench_databases, preload, stage_mixed
from wide import stage_wide

from ferry.staging import StagingDatabase, horizon, outcomes
from ferry.sync import batches, run_once
from ferry.warehouse import base, duckdb_wh, open_warehouse, postgres_wh

spent: collections.Counter[str] = collections.Counter()


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, adding its seconds to `spent[label]`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return wrapper


def instrument(engine: str) -> None:
    """Wrap each stage of the sync (module attributes and the engine's transaction methods)."""
    batches.BatchReader.read = timed("read ADBC → Arrow (own thread, overlapped)",  # type: ignore[method-assign]
                                     batches.BatchReader.read)
    base.fold = timed("fold (per key, in DuckDB)", base.fold)  # type: ignore[attr-defined]
    base.segments = timed("split into segments", base.segments)  # type: ignore[attr-defined]
    horizon.prove = timed("horizon proof", horizon.prove)  # type: ignore[method-assign]
    outcomes.record_batch = timed("staging record (batch row + exceptions)",  # type: ignore[method-assign]
                                  outcomes.record_batch)
    tx = duckdb_wh._DuckTransaction if engine == "duckdb" else postgres_wh._PgTransaction
    for method, label in (("existing", "existing-key lookup"), ("apply_groups", "MERGE / delete / insert"),
                          ("write_ledger", "ledger row"), ("commit", "commit")):
        setattr(tx, method, timed(label, getattr(tx, method)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--warehouse", choices=["duckdb", "postgresql"], default="duckdb")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--workload", choices=["mixed", "wide"], default="mixed")
    parser.add_argument("--duckdb-options", default="", help="the DuckDB warehouse URL's query string, e.g. "
                        "checkpoint_threshold=256MB")
    args = parser.parse_args()

    with bench_databases(args.admin_url, args.warehouse, args.duckdb_options) as (settings, url), \
            StagingDatabase.open(settings) as db:
        if args.workload == "wide":
            stage_wide(db, args.rows)
        else:
            existing = args.rows * 3 // 10
            preload(db, url, existing)
            stage_mixed(db, existing, args.rows)
        with db.pool.connection() as conn:
            conn.execute("VACUUM ANALYZE ferry_stg.nms_recipient")
        instrument(args.warehouse)
        warehouse = open_warehouse(url)
        started, cpu = time.perf_counter(), time.process_time()
        result = run_once(db, warehouse, "nms:recipient", settings)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        closing = time.perf_counter()
        warehouse.close()
        closing = time.perf_counter() - closing
    rows = result.counts["read"]
    print(f"{result.state}: {rows:,} rows into {args.warehouse} in {wall:.2f} s = {rows / wall:,.0f} rows/s, "
          f"{result.batches} batches of at most {settings.batch_rows:,} rows; this process's CPU {cpu:.2f} s "
          f"({cpu / rows * 1e6:.2f} µs/row, every thread; a busy box stretches the wall time, not this)")
    # DuckDB checkpoints what its WAL still holds when the file closes: work the sync left, outside the timer.
    print(f"warehouse close after the run (not timed above): {closing:.3f} s\n")
    print(table(wall, rows))


def table(wall: float, rows: int) -> str:
    """The markdown table of `spent`: seconds and µs per row of each stage, the rest, the wall time."""
    lines = ["| stage | seconds | µs/row |", "|---|---:|---:|"]
    lines += [f"| {label} | {seconds:.3f} | {seconds / rows * 1e6:.2f} |" for label, seconds in spent.most_common()]
    inside = sum(s for label, s in spent.items() if "overlapped" not in label)
    lines.append(f"| other (run bookkeeping, waits for the read) | {wall - inside:.3f} | "
                 f"{(wall - inside) / rows * 1e6:.2f} |")
    lines.append(f"| **total (wall)** | {wall:.3f} | {wall / rows * 1e6:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
