"""The table: one JSON row per measure, the machine's facts, and the markdown of both."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from harness import ADMIN_URL, log

HERE = Path(__file__).resolve().parent


def add(rows: list[dict[str, Any]], scenario: str, ferry: float, anchor: float, target: str, unit: str) -> None:
    row = {"scenario": scenario, "ferry": round(ferry, 2), "anchor": round(anchor, 2),
           "ratio": round(ferry / anchor, 3) if anchor else None, "target": target, "unit": unit}
    rows.append(row)
    log(json.dumps(row))


def facts() -> dict[str, str]:
    import duckdb

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    with psycopg.connect(ADMIN_URL) as conn:
        pg = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--", "src"], capture_output=True,
                           text=True).stdout.strip()
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cores": str(os.cpu_count()),
            "cpu": cpu, "python": platform.python_version(), "postgresql": pg, "duckdb": duckdb.__version__,
            "commit": commit + (" (+ uncommitted src changes)" if dirty else "")}


def markdown(rows: list[dict[str, Any]], notes: list[str], machine: dict[str, str], quick: bool) -> str:
    lines = [f"Measured {machine['date']} on commit {machine['commit']}, {'quick' if quick else 'full'} sizes; "
             f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, PostgreSQL "
             f"{machine['postgresql']}, DuckDB {machine['duckdb']}.", "",
             "| scenario | ferry | anchor | ratio | target | unit |", "|---|---:|---:|---:|---|---|"]
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(f"| {row['scenario']} | {row['ferry']:,.1f} | {row['anchor']:,.1f} | {ratio} | "
                     f"{row['target']} | {row['unit']} |")
    lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"

