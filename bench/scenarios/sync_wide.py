"""The wide keyed workload (`bench/wide.py`) into DuckDB / PostgreSQL: ferry's sync vs its limit anchor."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import Databases, spread, warehouse_url
from report import add
from wide import expected_rows, stage_wide, stage_wide_ops

from scenarios.sync import measure


def sync_wide(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """Keyed operations carrying 3 of `nms:recipient`'s attributes, synced into an empty table (ferry's default
    batches) against the same operations read, folded and MERGEd by hand into a table of only those columns."""
    n = cfg["wide_rows"]
    for engine in ("duckdb", "postgresql"):

        def anchors(dbs: Databases, tmp: Path, stg: str,
                    engine: str = engine) -> Iterator[tuple[str, str, dict[str, Any]]]:
            ops = dbs.new("ops")
            stage_wide_ops(ops, n)
            yield "limit", "limit-wide", {"rows": n, "ops": ops, "warehouse": warehouse_url(engine, dbs, tmp, "lim")}

        found = measure(cfg, engine, lambda db, wh: stage_wide(db, n), anchors)
        for r in found["ferry"]:
            counts = r["counts"]
            if counts["inserted"] - counts["deleted"] != expected_rows(n) or counts["skipped"] or counts["failed"]:
                raise SystemExit(f"ferry's wide sync counted {counts}, expected {expected_rows(n)} records")
        rate = {k: [n / r["seconds"] for r in v] for k, v in found.items()}
        add(rows, f"sync-wide {n:,} keyed ops (3 of 28 attributes) into {engine} vs the limit",
            statistics.median(rate["ferry"]), statistics.median(rate["limit"]), ">= 0.5", "rows/s")
        peak = {k: statistics.median(r["peak_mb"] for r in v) for k, v in found.items()}
        closing = statistics.median(r["close_seconds"] for r in found["ferry"])
        # DuckDB checkpoints what its WAL still holds when the file closes: work a sync may leave past its timer.
        notes.append(f"sync-wide {engine}: {found['ferry'][-1]['batches']} batches; ferry's warehouse close after "
                     f"the sync (untimed) {closing:.2f} s; peak RSS ferry "
                     f"{peak['ferry']:.0f} MB, limit {peak['limit']:.0f} MB; spread ferry {spread(rate['ferry']):.0%}, "
                     f"limit {spread(rate['limit']):.0%}")
