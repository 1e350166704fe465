"""The sync into DuckDB and PostgreSQL: ferry's sync against the limit, dlt end to end, dlt, and a raw MERGE."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from children import stage_ops
from harness import Databases, child, spread, staging, staging_writes, warehouse_url
from report import add

# Per repeat, the anchors' children in order: (kind in the results, child kind, its arguments); a generator, so an
# anchor's input is staged just before its child runs. Called with the repeat's databases, folder and staging URL.
Anchors = Callable[[Databases, Path, str], Iterator[tuple[str, str, dict[str, Any]]]]


def measure(cfg: dict[str, Any], engine: str, stage: Callable[[Any, str], None], anchors: Anchors, *,
            batch_rows: int | None = None, writes: bool = False) -> dict[str, list[dict[str, Any]]]:
    """`heavy_repeats` times, in fresh databases: `stage(db, warehouse_url)` the workload, sync it with ferry in a
    child process (its staging writes counted when `writes`), then run each anchor's child. Checks that every anchor
    left the rows it expected; returns the children's results per kind."""
    found: dict[str, list[dict[str, Any]]] = {"ferry": []}
    for _ in range(cfg["heavy_repeats"]):
        dbs = Databases()
        try:
            with tempfile.TemporaryDirectory(prefix="ferry-bench-") as folder:
                tmp = Path(folder)
                stg = dbs.new("stg")
                wh = warehouse_url(engine, dbs, tmp, "wh")
                with staging(stg, tmp) as db:
                    stage(db, wh)
                before = staging_writes(stg) if writes else {}
                found["ferry"].append(child("ferry-sync", {"staging": stg, "warehouse": wh, "tmp": folder,
                                                           "batch_rows": batch_rows}))
                if writes:
                    after = staging_writes(stg)
                    found["ferry"][-1]["writes"] = {k: after[k] - before[k] for k in after}
                for kind, child_kind, args in anchors(dbs, tmp, stg):
                    found.setdefault(kind, []).append(child(child_kind, {**args, "tmp": folder}))
        finally:
            dbs.drop()
    for kind, results in found.items():
        for r in results:
            if kind != "ferry" and r["rows_after"] != r["expected"]:
                raise SystemExit(f"{kind} anchor left {r['rows_after']} rows, expected {r['expected']}")
    return found


def sync(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """N mixed staged rows into DuckDB / PostgreSQL: ferry's sync vs dlt merge and a raw MERGE of the folded batch."""
    from sync_rate import preload, stage_mixed

    n = cfg["sync_rows"]
    existing = n * 3 // 10
    common = {"existing": existing, "rows": n}
    for engine in ("duckdb", "postgresql"):

        def stage(db: Any, wh: str) -> None:
            preload(db, wh, existing)
            stage_mixed(db, existing, n)

        def anchors(dbs: Databases, tmp: Path, stg: str,
                    engine: str = engine) -> Iterator[tuple[str, str, dict[str, Any]]]:
            ops = dbs.new("ops")
            stage_ops(ops, existing, n)
            yield "limit", "limit", {**common, "ops": ops, "warehouse": warehouse_url(engine, dbs, tmp, "lim")}
            yield "dlt-sql", "dlt-sql", {**common, "staging": stg, "warehouse": warehouse_url(engine, dbs, tmp, "dls")}
            yield "dlt", "dlt", {**common, "warehouse": warehouse_url(engine, dbs, tmp, "dlt")}
            yield "merge", "merge", {**common, "warehouse": warehouse_url(engine, dbs, tmp, "raw")}

        # ferry's default batch size (FERRY_BATCH_ROWS) unless --sizes sets sync_batch_rows.
        found = measure(cfg, engine, stage, anchors, batch_rows=cfg.get("sync_batch_rows"), writes=True)
        rate = {k: [n / r["seconds"] for r in v] for k, v in found.items()}
        peak = {k: statistics.median(r["peak_mb"] for r in v) for k, v in found.items()}
        ferry = statistics.median(rate["ferry"])
        add(rows, f"sync {n:,} rows into {engine} vs the limit (ADBC read, fold, MERGE)", ferry,
            statistics.median(rate["limit"]), ">= 0.5", "rows/s")
        add(rows, f"sync {n:,} rows into {engine} vs dlt end to end (sql_table from staging)", ferry,
            statistics.median(rate["dlt-sql"]), ">= 2.0", "rows/s")
        add(rows, f"sync {n:,} rows into {engine} vs dlt", ferry, statistics.median(rate["dlt"]), ">= 2.0", "rows/s")
        add(rows, f"sync {n:,} rows into {engine} vs raw MERGE", ferry, statistics.median(rate["merge"]), ">= 0.5",
            "rows/s")
        writes = found["ferry"][-1]["writes"]
        add(rows, f"sync {n:,} rows into {engine}: staging rows updated or deleted per row synced",
            100 * (writes["upd"] + writes["del"]) / n, 1.0, "<= 1.0", "%")
        add(rows, f"sync {n:,} rows into {engine}: staging dead tuples left by the sync", writes["dead"], 0.0, "== 0",
            "tuples")
        notes.append(f"sync {engine} staging writes (pg_stat_user_tables over every table of schema ferry_stg, "
                     f"partitions included, before/after the sync process): n_tup_upd +{writes['upd']:,}, "
                     f"n_tup_hot_upd +{writes['hot']:,}, n_tup_del +{writes['del']:,}, n_dead_tup "
                     f"{writes['dead']:+,} (autovacuum may lower the last); {found['ferry'][-1]['batches']} batches")
        notes.append(f"sync {engine}: peak RSS ferry {peak['ferry']:.0f} MB, limit {peak['limit']:.0f} MB, dlt "
                     f"{peak['dlt']:.0f} MB, raw MERGE {peak['merge']:.0f} MB; spread ferry "
                     f"{spread(rate['ferry']):.0%}, limit {spread(rate['limit']):.0%}, dlt end to end "
                     f"{peak['dlt-sql']:.0f} MB / {spread(rate['dlt-sql']):.0%}, dlt "
                     f"{spread(rate['dlt']):.0%}, MERGE {spread(rate['merge']):.0%}")
