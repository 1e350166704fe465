"""Peak RSS of the syncing process draining a backlog of 20 batches against one of 2 batches (memory flat)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from harness import Databases, child, staging, warehouse_url
from report import add


def memory(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """Peak RSS of the syncing process draining a backlog of 20 batches against one of 2 batches (memory flat)."""
    from sync_rate import stage_inserts

    batch = cfg["memory_batch"]
    for engine in ("duckdb", "postgresql"):
        peaks: dict[int, float] = {}
        for batches in (2, 20):
            dbs = Databases()
            try:
                with tempfile.TemporaryDirectory(prefix="ferry-bench-") as folder:
                    stg, wh = dbs.new("stg"), warehouse_url(engine, dbs, Path(folder), "wh")
                    with staging(stg, Path(folder)) as db:
                        stage_inserts(db, batch * batches, 0, "insert", None)
                    out = child("ferry-sync", {"staging": stg, "warehouse": wh, "tmp": folder, "batch_rows": batch})
                    peaks[batches] = out["peak_mb"]
            finally:
                dbs.drop()
        add(rows, f"sync memory into {engine}: peak RSS, backlog of 20 vs 2 batches of {batch:,} rows", peaks[20],
            peaks[2], "<= 1.25", "MB")

