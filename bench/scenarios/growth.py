"""One batch (half updates, half new keys) into warehouse tables of growing size: time at the largest / smallest."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from harness import Databases, child, spread, staging, warehouse_url
from report import add


def growth(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """One batch (half updates, half new keys) into warehouse tables of growing size: time at the largest / smallest."""
    from sync_rate import preload, stage_inserts

    batch = cfg["growth_batch"]
    for engine in ("duckdb", "postgresql"):
        seconds: dict[int, list[float]] = {}
        for size in cfg["growth_sizes"]:
            dbs = Databases()
            try:
                with tempfile.TemporaryDirectory(prefix="ferry-bench-") as folder:
                    tmp = Path(folder)
                    stg, wh = dbs.new("stg"), warehouse_url(engine, dbs, tmp, "wh")
                    with staging(stg, tmp) as db:
                        preload(db, wh, size)
                    seconds[size] = []
                    for repeat in range(cfg["heavy_repeats"]):
                        with staging(stg, tmp) as db:
                            # Half the batch updates keys spread over the table, half inserts new keys.
                            stage_inserts(db, batch // 2, (size // cfg["heavy_repeats"]) * repeat, "insertOrUpdate",
                                          ["email"])
                            stage_inserts(db, batch - batch // 2, 20_000_000 + repeat * batch, "insertOrUpdate",
                                          ["email"])
                        seconds[size].append(child("ferry-sync", {"staging": stg, "warehouse": wh, "tmp": folder,
                                                                  "batch_rows": batch})["seconds"])
            finally:
                dbs.drop()
        small, large = cfg["growth_sizes"][0], cfg["growth_sizes"][-1]
        add(rows, f"growth {batch:,}-row batch into {engine}: {large:,} vs {small:,} rows",
            statistics.median(seconds[large]), statistics.median(seconds[small]), "<= 2.0", "s")
        notes.append(f"growth {engine}: " + ", ".join(
            f"{size:,} rows {statistics.median(v):.2f} s (spread {spread(v):.0%})" for size, v in seconds.items()))

