#!/usr/bin/env python3
"""Whole-box CPU per unitary call: the ferry server, the load generator and the database's PostgreSQL backends,
next to the single-row INSERT+COMMIT anchor's client and backends (issue 23's 8-client floor).

    bench/cpu_per_call.py [--clients 8] [--calls 2000] [--rounds 2]

On 2 cores a rate R needs at most 2 / R CPU seconds per call, everything included: this shows how far each side is
from that. PostgreSQL from FERRY_BENCH_DATABASE_URL (else as bench/run). CPU from /proc/<pid>/stat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from anchors import insert_anchor  # noqa: E402
from harness import (  # noqa: E402
    ADMIN_URL,
    SOAP_PATH,
    Databases,
    Server,
    drive,
    expect,
    json_record,
    percentile,
    soap_record,
    staging,
)

TICK = os.sysconf("SC_CLK_TCK")


def backends(dbname: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `dbname`."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))]
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return found


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def anchor(url: str, dbname: str, clients: int, calls: int, known: set[int]) -> tuple[dict[str, float], float]:
    """The anchor's result and its backends' CPU seconds (sampled while it runs: they end with its connections)."""
    task = asyncio.create_task(insert_anchor(url, clients, calls, uuid.uuid4().hex[:6]))
    seen: dict[int, float] = {}
    while not task.done():
        await asyncio.sleep(0.02)
        seen.update({pid: cpu for pid, cpu in backends(dbname).items() if pid not in known})
    return await task, sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    dbs = Databases()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
            url = dbs.new("cpu")
            dbname = url.rsplit("/", 1)[1]
            staging(url, Path(tmp)).close()
            server = Server(url, Path(tmp))
            try:
                for _ in range(args.rounds):
                    for kind in ("soap", "rest", "anchor"):
                        measure(server, url, dbname, kind, args.clients, args.calls)
            finally:
                server.stop()
    finally:
        dbs.drop()


def measure(server: Server, url: str, dbname: str, kind: str, clients: int, calls: int) -> None:
    tag = uuid.uuid4().hex[:6]

    async def soap(http: Any, n: int, i: int) -> None:
        async with http.post(server.url + SOAP_PATH, headers=server.soap_headers(),
                             data=server.soap_body(soap_record(f"c{tag}-{n}-{i}"))) as reply:
            await expect(reply, b"<pstrSUuids")

    async def rest(http: Any, n: int, i: int) -> None:
        async with http.post(server.url + "/api/v1/ingest/nms:recipient", headers=server.rest_headers(
                "application/json"), data=json_record(f"c{tag}-{n}-{i}").encode()) as reply:
            await expect(reply, b"uuid")

    before = backends(dbname)
    server0, client0 = server.cpu_seconds(), own_cpu()
    if kind == "anchor":
        result, pg = asyncio.run(anchor(url, dbname, clients, calls, set(before)))
        done, rate, p50, serving = calls // clients * clients, result["rate"], result["p50"], 0.0
    else:
        latencies, secs, _ = asyncio.run(drive(clients, calls, soap if kind == "soap" else rest))
        after = backends(dbname)
        pg = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
        done, rate, p50 = len(latencies), len(latencies) / secs, percentile(latencies, 0.5)
        serving = server.cpu_seconds() - server0
    client = own_cpu() - client0
    total = (serving + client + pg) / done
    print(f"{kind:6} {clients} clients: {rate:,.0f}/s, p50 {p50 * 1e3:.2f} ms; CPU µs per call: server "
          f"{serving / done * 1e6:.0f}, client {client / done * 1e6:.0f}, PostgreSQL {pg / done * 1e6:.0f}, total "
          f"{total * 1e6:.0f} (2 cores allow {2 / total:,.0f}/s); load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
