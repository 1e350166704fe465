"""Continuous mode (FERRY_SYNC_INTERVAL=0), 10,000 records/s offered (REST, 10 records a call), into DuckDB and
PostgreSQL: p99 from each call's reply to its first record being returned by ferry's own query API."""

from __future__ import annotations

import asyncio
import bisect
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from harness import Databases, RawHttp, Server, log, percentile, staging, warehouse_url
from psycopg import sql
from report import add
from soap_unitary import own_cpu

PER_CALL = 10
CLIENTS = 32
POLL_SECONDS = 0.02


@dataclass
class Load:
    """What one load run measured: per call its reply and first-seen wall-clock times, and the costs."""

    replied: dict[int, float] = field(default_factory=dict)
    seen: dict[int, float] = field(default_factory=dict)
    reply_seconds: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    driver_cpu: float = 0.0
    server_cpu: float = 0.0
    calls: int = 0

    def lags(self) -> list[float]:
        return [self.seen[i] - self.replied[i] for i in self.seen if i in self.replied]


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
                trace = Path(tmp) / "sync-trace.jsonl"
                server = Server(stg, Path(tmp), {"FERRY_SYNC_INTERVAL": "0", "FERRY_WAREHOUSE_URL": wh,
                                                 "FERRY_SYNC_TRACE": str(trace)})
                try:
                    load = asyncio.run(lag_load(server, cfg["lag_seconds"], cfg["lag_calls_per_s"]))
                finally:
                    server.stop()
                with psycopg.connect(stg) as conn:
                    runs = conn.execute("SELECT count(*) FROM ferry.workflow_runs "
                                        "WHERE workflow = 'ffdaReplicateStagingData'").fetchone()[0]  # type: ignore
                    stages = where_it_goes(conn, load, trace)
        finally:
            dbs.drop()
        lags = load.lags()
        p99 = percentile(lags, 0.99)
        rate = cfg["lag_calls_per_s"] * PER_CALL
        achieved = load.calls * PER_CALL / load.elapsed
        add(rows, f"end-to-end lag p99 at {rate:,} records/s, continuous sync, into {engine}", p99 * 1000, 500.0,
            "<= 1.0", "ms")
        rows[-1]["notes"] = (f"offered {rate:,} records/s, achieved {achieved:,.0f}; p50 "
                             f"{percentile(lags, 0.5) * 1000:.0f} ms")
        notes.append(f"lag {engine}: {len(lags)} calls, offered {rate:,} records/s, achieved {achieved:,.0f} "
                     f"records/s (reply p50 {percentile(load.reply_seconds, 0.5) * 1000:.0f} ms, p99 "
                     f"{percentile(load.reply_seconds, 0.99) * 1000:.0f} ms; CPU per second of load: driver "
                     f"{load.driver_cpu / load.elapsed:.2f}, server {load.server_cpu / load.elapsed:.2f} cores), "
                     f"p50 {percentile(lags, 0.5) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
                     f"{max(lags) * 1000:.0f} ms, {runs} sync runs recorded (anchor column = the 500 ms target); "
                     f"queryable = returned by GET /api/v1/data, polled every {POLL_SECONDS * 1000:.0f} ms")
        if stages:
            notes.append(f"lag {engine}, where it goes (ms; median of all calls / mean of the slowest 2%): {stages}")


async def lag_load(server: Server, seconds: float, calls_per_s: int) -> Load:
    run = uuid.uuid4().hex[:6]
    load = Load()
    total = int(seconds * calls_per_s)
    marker = f"lag{run}"
    host, port = "127.0.0.1", server.port
    headers = server.rest_headers("application/x-ndjson")

    def body(i: int) -> bytes:
        # Record 0 of each call carries the marker and the call's number (zero-padded: compared as text).
        return "\n".join(json.dumps({"email": f"{marker}-{i:08d}-{k}@x.test", "firstName": f"{i:08d}",
                                     "lastName": marker if k == 0 else "other", "gender": 1})
                         for k in range(PER_CALL)).encode()

    # Built before the clock starts: the driver only sends bytes and reads replies.
    requests = [RawHttp.request("POST", "/api/v1/ingest/nms:recipient", headers, body(i)) for i in range(total)]
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def pace() -> None:
        start = time.perf_counter()
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / calls_per_s - time.perf_counter()))
            queue.put_nowait(i)

    async def worker() -> None:
        http = RawHttp(host, port)
        try:
            while True:
                i = await queue.get()
                sent = time.perf_counter()
                status, reply = await http.send(requests[i])
                if status != 200 or b"uuid" not in reply:
                    raise SystemExit(f"unexpected reply {status}: {reply[:400]!r}")
                load.replied[i] = time.time()
                load.reply_seconds.append(time.perf_counter() - sent)
                queue.task_done()
        finally:
            http.close()

    async def poll(until: Callable[[], bool]) -> None:
        http = RawHttp(host, port)
        query_headers = server.rest_headers("application/json")
        try:
            while not until():
                pending = [i for i in load.replied if i not in load.seen]
                if pending:
                    low = min(pending)
                    # A range of the (indexed) key from the oldest call not seen yet: the poll's cost follows the
                    # records still to find, not the whole table.
                    params = {"fields": "firstName", "limit": "10000",
                              "filter": f"@email >= '{marker}-{low:08d}' and @email < '{marker}-~' "
                                        f"and @lastName = '{marker}'"}
                    status, reply = await http.send(RawHttp.request(
                        "GET", "/api/v1/data/nms/recipient?" + urlencode(params), query_headers))
                    if status == 200:
                        now = time.time()
                        for row in json.loads(reply)["rows"]:
                            load.seen.setdefault(int(row["firstName"]), now)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            http.close()

    started = time.perf_counter()
    cpu0, server_cpu0 = own_cpu(), server.cpu_seconds()
    workers = [asyncio.create_task(worker()) for _ in range(CLIENTS)]
    poller = asyncio.create_task(poll(lambda: len(load.seen) >= total or time.perf_counter() - started > seconds + 60))
    await pace()
    await queue.join()
    load.elapsed = time.perf_counter() - started
    load.driver_cpu, load.server_cpu = own_cpu() - cpu0, server.cpu_seconds() - server_cpu0
    load.calls = total
    await poller
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    if len(load.seen) < total:
        log(f"lag: {total - len(load.seen)} calls never became queryable within 60 s")
    return load


STAGES = (("reply → horizon proven (wake-up, run start or the follow's next proof)", "reply", "proven"),
          ("proven → read done", "proven", "read_end"),
          ("read → apply starts (the previous apply)", "read_end", "apply_start"),
          ("fold + MERGE + ledger", "apply_start", "after_load"), ("warehouse commit", "after_load", "after_commit"),
          ("commit → seen by the poll", "after_commit", "seen"))


def where_it_goes(conn: psycopg.Connection, load: Load, trace: Path) -> str:
    """Each call's lag cut at its batch's stages (from the server's `FERRY_SYNC_TRACE`): medians, and means over
    the slowest 2% of calls."""
    if not trace.exists():
        return ""
    proofs: list[tuple[int, float]] = []
    spans: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    for line in trace.read_text().splitlines():
        entry = json.loads(line)
        if "proven" in entry:
            proofs.append((entry["proven"], entry["t"]))
        elif "read" in entry:
            reads.append(entry)
        elif "last" in entry:
            spans.append(entry)
    proofs.sort(key=lambda p: p[1])
    spans.sort(key=lambda b: b["first"])
    reads.sort(key=lambda r: r["read"])
    seqs = _seqs(conn)
    firsts = [b["first"] for b in spans]
    read_firsts = [r["read"] for r in reads]
    cut: list[dict[str, float]] = []
    for i, seen in load.seen.items():
        seq = seqs.get(i)
        if seq is None or i not in load.replied:
            continue
        k = bisect.bisect_right(firsts, seq) - 1
        if k < 0 or spans[k]["last"] < seq:
            continue
        times = {**spans[k], "reply": load.replied[i], "seen": seen}
        r = bisect.bisect_right(read_firsts, seq) - 1
        if r >= 0 and reads[r]["last"] >= seq:
            times["read_end"] = reads[r]["t"]
        times["proven"] = next((t for upto, t in proofs if upto >= seq), times.get("read_end", seen))
        cut.append({name: (times[b] - times[a]) * 1000 for name, a, b in STAGES if a in times and b in times}
                   | {"lag": (seen - load.replied[i]) * 1000})
    if not cut:
        return ""
    cut.sort(key=lambda c: c["lag"])
    tail = cut[-max(1, len(cut) // 50):]
    parts = []
    for name, _a, _b in (*STAGES, ("lag", "", "")):
        mid = statistics.median(c.get(name, 0.0) for c in cut)
        slow = statistics.fmean(c.get(name, 0.0) for c in tail)
        parts.append(f"{name} {mid:.0f} / {slow:.0f}")
    sizes = [b.get("rows") or 0 for b in spans]
    return "; ".join(parts) + f" ({len(spans)} batches, median {statistics.median(sizes):.0f} rows)"


def _seqs(conn: psycopg.Connection) -> dict[int, int]:
    """Call number → `_seq` of its marked record, from the staging log."""
    from ferry.staging.ddl import STAGING_SCHEMA

    tables = [r[0] for r in conn.execute("SELECT stg_table FROM ferry.schemas WHERE id = 'nms:recipient'").fetchall()]
    if not tables:
        return {}
    rows = conn.execute(sql.SQL("SELECT {f}, _seq FROM {t} WHERE {m} LIKE 'lag%%'").format(
        f=sql.Identifier("firstName"), t=sql.Identifier(STAGING_SCHEMA, tables[0]),
        m=sql.Identifier("lastName"))).fetchall()
    return {int(first): int(seq) for first, seq in rows if first and str(first).isdigit()}
