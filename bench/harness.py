"""Shared by every scenario: sizes, fresh databases, a real `ferry serve`, the load driver, subprocess steps."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from soap_unitary import ENVELOPE, free_port, own_cpu

# The entry point: `child` runs its steps as `bench/run --child KIND ARGS`.
RUN = Path(__file__).resolve().parent / "run"
ADMIN_URL = (os.environ.get("FERRY_BENCH_DATABASE_URL") or os.environ.get("FERRY_TEST_DATABASE_URL")
             or "postgresql://postgres@127.0.0.1/postgres")


SOAP_PATH = "/nl/jsp/soaprouter.jsp"


FULL = {"repeats": 3, "heavy_repeats": 3, "unitary_calls": 6000, "clients": (8, 32, 128), "collections": 60,
        "sync_rows": 1_000_000, "growth_sizes": (1_000_000, 5_000_000, 10_000_000), "growth_batch": 100_000,
        "lag_seconds": 60, "lag_calls_per_s": 1000,
        "memory_batch": 50_000, "wide_rows": 400_000, "worker_clients": (8, 32),
        "script_calls": 100_000, "script_collection": 10_000, "unitary_driver": "aiohttp"}


# Quick: the sync and growth scenarios run once (each repeat makes databases and starts fresh processes).
QUICK = {"repeats": 3, "heavy_repeats": 1, "unitary_calls": 1200, "clients": (8, 32, 128), "collections": 12,
         "sync_rows": 30_000, "growth_sizes": (50_000, 250_000, 500_000), "growth_batch": 5_000, "lag_seconds": 8,
         "lag_calls_per_s": 1000, "memory_batch": 5_000, "wide_rows": 40_000,
         "worker_clients": (8, 32), "script_calls": 500, "script_collection": 10_000, "unitary_driver": "aiohttp"}


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


class Databases:
    """Fresh PostgreSQL databases for one scenario, dropped at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self, label: str) -> str:
        name = f"ferry_bench_{label}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.names.append(name)
        return urlsplit(ADMIN_URL)._replace(path="/" + name).geturl()

    def drop(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            for name in self.names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self.names.clear()


def staging(url: str, folder: Path, **overrides: Any) -> Any:
    from ferry.config import Settings
    from ferry.staging import StagingDatabase

    return StagingDatabase.open(Settings.from_env(database_url=url, data_dir=folder, **overrides))


def spread(values: list[float]) -> float:
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Server:
    """A real `ferry serve` subprocess on a free port."""

    def __init__(self, db_url: str, folder: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        import httpx

        self.port = free_port()
        full_env = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
                    "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'w.duckdb'}", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ferry.cli", "serve", "--port", str(self.port), "--data-dir", str(folder),
             "--log-level", "warning", *(["--workers", str(workers)] if workers > 1 else [])],
            env=full_env, stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/api/v1/logon", timeout=1).status_code in (200, 404, 405, 422):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            self.stop()
            raise SystemExit("ferry serve did not start")
        reply = httpx.post(f"{self.url}/api/v1/logon", json={"login": "admin", "password": "secret"}).json()
        self.session, self.security = reply["sessionToken"], reply["securityToken"]

    def rest_headers(self, content_type: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}", "X-Security-Token": self.security,
                "Content-Type": content_type}

    def soap_headers(self) -> dict[str, str]:
        return {"Content-Type": "text/xml", "X-Security-Token": self.security}

    def soap_body(self, records: str) -> bytes:
        return ENVELOPE.format(method="Ingest", urn="xtk:session", token=self.session,
                               params=f"<domDoc>{records}</domDoc>").encode()

    def group_commits(self) -> tuple[int, int]:
        """(batches, calls) written by the server's group committer so far, from /healthz."""
        import httpx

        def find(node: Any) -> Any:
            if isinstance(node, dict):
                if "groupCommit" in node:
                    return node["groupCommit"]
                for value in node.values():
                    if (hit := find(value)) is not None:
                        return hit
            return None

        stats = find(httpx.get(f"{self.url}/healthz", timeout=10).json()) or {}
        return int(stats.get("batches") or 0), int(stats.get("calls") or 0)

    def cpu_seconds(self) -> float:
        """CPU seconds of the server and its worker processes (`--workers N` forks them)."""
        from soap_unitary import cpu_seconds

        total = cpu_seconds(self.process.pid)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    total += cpu_seconds(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue  # a process that ended meanwhile
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def soap_record(tag: str) -> str:
    return f'<recipient xtkschema="nms:recipient" email="{tag}@x.test" firstName="Ann" lastName="Lee" gender="1"/>'


def json_record(tag: str) -> str:
    return json.dumps({"email": f"{tag}@x.test", "firstName": "Ann", "lastName": "Lee", "gender": 1})


async def drive(clients: int, count: int, send: Callable[[Any, int, int], Any]) -> tuple[list[float], float, float]:
    """`clients` keep-alive aiohttp sessions (one connection each) sending `count` requests in all.

    Returns per-call latencies, elapsed seconds and this process's CPU seconds (the load generator's cost)."""
    import aiohttp

    per_client = count // clients
    latencies: list[float] = []

    async def client(n: int, calls: int, record: bool) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            for i in range(calls):
                started = time.perf_counter()
                await send(http, n, i)
                if record:
                    latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(n, 3, False) for n in range(clients)))  # open connections, warm caches
    cpu0, started = own_cpu(), time.perf_counter()
    await asyncio.gather(*(client(n, per_client, True) for n in range(clients)))
    return latencies, time.perf_counter() - started, own_cpu() - cpu0


async def drive_raw(clients: int, count: int, host: str, port: int,
                    request: Callable[[int, int], bytes], marker: bytes) -> tuple[list[float], float, float]:
    """`drive` with one `RawHttp` connection per client instead of aiohttp: request(n, i) builds the bytes of a
    call, every reply must be a 200 holding `marker`. Same returns as `drive`."""
    per_client = count // clients
    latencies: list[float] = []

    async def client(http: RawHttp, n: int, calls: int, record: bool) -> None:
        for i in range(calls):
            data = request(n, i if record else -1 - i)
            started = time.perf_counter()
            status, reply = await http.send(data)
            if record:
                latencies.append(time.perf_counter() - started)
            if status != 200 or marker not in reply:
                raise SystemExit(f"unexpected reply {status}: {reply[:400]!r}")

    connections = [RawHttp(host, port) for _ in range(clients)]
    try:
        await asyncio.gather(*(client(http, n, 3, False) for n, http in enumerate(connections)))  # connect, warm
        cpu0, started = own_cpu(), time.perf_counter()
        await asyncio.gather(*(client(http, n, per_client, True) for n, http in enumerate(connections)))
        return latencies, time.perf_counter() - started, own_cpu() - cpu0
    finally:
        for http in connections:
            http.close()


async def expect(response: Any, marker: bytes) -> None:
    content = await response.read()
    if response.status != 200 or marker not in content:
        raise SystemExit(f"unexpected reply {response.status}: {content[:400]!r}")


def staging_writes(url: str) -> dict[str, int]:
    """Row writes counted by PostgreSQL on the staging tables (either layout: plain tables or partitions)."""
    time.sleep(1.2)  # backends flush their counters at most once a second
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_hot_upd), 0), "
                           "coalesce(sum(n_tup_del), 0), coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables "
                           "WHERE schemaname = 'ferry_stg'").fetchone()
    assert row is not None
    return dict(zip(("upd", "hot", "del", "dead"), (int(v) for v in row), strict=True))


def child(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one measured step in a fresh Python process; returns its seconds and peak RSS."""
    done = subprocess.run([sys.executable, str(RUN), "--child", kind, json.dumps(args)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def warehouse_url(engine: str, dbs: Databases, tmp: Path, label: str) -> str:
    return f"duckdb:///{tmp / (label + '.duckdb')}" if engine == "duckdb" else dbs.new(label)



class RawHttp:
    """One keep-alive HTTP/1.1 connection on asyncio streams, requests pre-built as bytes: a load driver that costs
    a few tens of µs a call where aiohttp costs a few hundred (on 2 cores the driver competes with the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @staticmethod
    def request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        """The bytes of one request (built once, sent as they are)."""
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return (head + "\r\n").encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one pre-built request and read its reply: (status, body)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in fields:
            body = await self._reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self._reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            raise SystemExit(f"a reply without a length: {head!r}")
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
