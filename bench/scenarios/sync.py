"""N mixed staged rows into DuckDB / PostgreSQL: ferry's sync vs dlt merge and a raw MERGE of the folded batch."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from children import stage_ops
from harness import Databases, child, spread, staging, staging_writes, warehouse_url
from report import add


def sync(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """N mixed staged rows into DuckDB / PostgreSQL: ferry's sync vs dlt merge and a raw MERGE of the folded batch."""
    from sync_rate import preload, stage_mixed

    n = cfg["sync_rows"]
    existing = n * 3 // 10
    for engine in ("duckdb", "postgresql"):
        found: dict[str, list[dict[str, Any]]] = {"ferry": [], "limit": [], "dlt-sql": [], "dlt": [], "merge": []}
        for _ in range(cfg["heavy_repeats"]):
            dbs = Databases()
            try:
                with tempfile.TemporaryDirectory(prefix="ferry-bench-") as folder:
                    tmp = Path(folder)
                    stg = dbs.new("stg")
                    wh = warehouse_url(engine, dbs, tmp, "wh")
                    with staging(stg, tmp) as db:
                        preload(db, wh, existing)
                        stage_mixed(db, existing, n)
                    # ferry's default batch size (FERRY_BATCH_ROWS, 50k) unless --sizes sets sync_batch_rows.
                    before = staging_writes(stg)
                    found["ferry"].append(child("ferry-sync", {"staging": stg, "warehouse": wh, "tmp": folder,
                                                               "batch_rows": cfg.get("sync_batch_rows")}))
                    after = staging_writes(stg)
                    found["ferry"][-1]["writes"] = {k: after[k] - before[k] for k in after}
                    common = {"existing": existing, "rows": n, "tmp": folder}
                    ops = dbs.new("ops")
                    stage_ops(ops, existing, n)
                    found["limit"].append(child("limit", {**common, "ops": ops,
                                                          "warehouse": warehouse_url(engine, dbs, tmp, "lim")}))
                    found["dlt-sql"].append(child("dlt-sql", {**common, "staging": stg,
                                                              "warehouse": warehouse_url(engine, dbs, tmp, "dls")}))
                    found["dlt"].append(child("dlt", {**common, "warehouse": warehouse_url(engine, dbs, tmp, "dlt")}))
                    found["merge"].append(child("merge", {**common,
                                                          "warehouse": warehouse_url(engine, dbs, tmp, "raw")}))
            finally:
                dbs.drop()
        for kind in ("limit", "dlt-sql", "dlt", "merge"):
            for r in found[kind]:
                if r["rows_after"] != r["expected"]:
                    raise SystemExit(f"{kind} anchor left {r['rows_after']} rows, expected {r['expected']}")
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

