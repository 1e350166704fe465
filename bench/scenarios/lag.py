"""Continuous mode (FERRY_SYNC_INTERVAL=0), 10,000 records/s offered (REST, 10 records a call), into DuckDB and"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from harness import Databases, Server, expect, log, percentile, staging, warehouse_url
from report import add


def lag(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """Continuous mode (FERRY_SYNC_INTERVAL=0), 10,000 records/s offered (REST, 10 records a call), into DuckDB and
    PostgreSQL: p99 from each call's reply to its first record being returned by ferry's own query API."""
    for engine in ("duckdb", "postgresql"):
        dbs = Databases()
        try:
            with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
                stg = dbs.new("stg")
                wh = warehouse_url(engine, dbs, Path(tmp), "wh")
                staging(stg, Path(tmp)).close()
                server = Server(stg, Path(tmp), {"FERRY_SYNC_INTERVAL": "0", "FERRY_WAREHOUSE_URL": wh})
                try:
                    lags, offered = asyncio.run(lag_load(server, cfg["lag_seconds"], cfg["lag_calls_per_s"]))
                finally:
                    server.stop()
                with psycopg.connect(stg) as conn:
                    runs = conn.execute("SELECT count(*) FROM ferry.workflow_runs "
                                        "WHERE workflow = 'ffdaReplicateStagingData'").fetchone()[0]  # type: ignore
        finally:
            dbs.drop()
        p99 = percentile(lags, 0.99)
        rate = cfg["lag_calls_per_s"] * 10
        add(rows, f"end-to-end lag p99 at {rate:,} records/s, continuous sync, into {engine}", p99 * 1000, 500.0,
            "<= 1.0", "ms")
        notes.append(f"lag {engine}: {len(lags)} calls, achieved {offered:.0f} records/s, p50 "
                     f"{percentile(lags, 0.5) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms, "
                     f"{runs} sync runs (anchor column = the 500 ms target); queryable = returned by "
                     "GET /api/v1/data, polled every 20 ms")


async def lag_load(server: Server, seconds: float, calls_per_s: int) -> tuple[list[float], float]:
    import aiohttp

    per_call = 10
    run = uuid.uuid4().hex[:6]
    replied: dict[int, float] = {}
    seen: dict[int, float] = {}
    total = int(seconds * calls_per_s)
    queue: asyncio.Queue[int] = asyncio.Queue()
    headers = server.rest_headers("application/x-ndjson")
    marker = f"lag{run}"

    def record(i: int, k: int) -> str:
        # Record 0 of each call carries the marker and the call's number (zero-padded: compared as text).
        return json.dumps({"email": f"{marker}-{i:08d}-{k}@x.test", "firstName": f"{i:08d}",
                           "lastName": marker if k == 0 else "other", "gender": 1})

    async def pace() -> None:
        start = time.perf_counter()
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / calls_per_s - time.perf_counter()))
            queue.put_nowait(i)

    async def worker(http: aiohttp.ClientSession) -> None:
        while True:
            i = await queue.get()
            body = "\n".join(record(i, k) for k in range(per_call)).encode()
            async with http.post(server.url + "/api/v1/ingest/nms:recipient", headers=headers, data=body) as r:
                await expect(r, b"uuid")
            replied[i] = time.perf_counter()
            queue.task_done()

    async def poll(http: aiohttp.ClientSession, until: Callable[[], bool]) -> None:
        query_headers = server.rest_headers("application/json")
        while not until():
            pending = [i for i in replied if i not in seen]
            if pending:
                low = min(pending)
                # A range of the (indexed) key from the oldest call not seen yet: the poll's cost follows the
                # records still to find, not the whole table (a scan every 20 ms of a table growing by 600k rows
                # took the CPU the server needs).
                params = {"fields": "firstName", "limit": "10000",
                          "filter": f"@email >= '{marker}-{low:08d}' and @email < '{marker}-~' "
                                    f"and @lastName = '{marker}'"}
                async with http.get(server.url + "/api/v1/data/nms/recipient", params=params,
                                    headers=query_headers) as r:
                    if r.status == 200:
                        now = time.perf_counter()
                        for row in (await r.json())["rows"]:
                            seen.setdefault(int(row["firstName"]), now)
            await asyncio.sleep(0.02)

    started = time.perf_counter()
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as query_http:
        workers = [asyncio.create_task(worker(http)) for _ in range(32)]
        poller = asyncio.create_task(poll(query_http, lambda: len(seen) >= total
                                          or time.perf_counter() - started > seconds + 60))
        await pace()
        await queue.join()
        offered = total * per_call / (time.perf_counter() - started)
        await poller
        for task in workers:
            task.cancel()
    if len(seen) < total:
        log(f"lag: {total - len(seen)} calls never became queryable within 60 s")
    return [seen[i] - replied[i] for i in seen if i in replied], offered

