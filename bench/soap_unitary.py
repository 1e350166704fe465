"""Unitary SOAP Ingest through a real `ferry serve` vs single-row INSERT+COMMIT into the same staging table.

Usage: python bench/soap_unitary.py [--clients 32] [--calls 8000] [--generator aiohttp|httpx] [--database-url URL]
Starts `ferry serve` on a fresh database (dem:sampleTable, staged), drives it with `--clients` concurrent
keep-alive httpx clients each sending one-record Ingest envelopes, then runs the anchor (the same number of
single-row INSERT+COMMIT statements from `--clients` connections) in the same run. Prints one JSON object.
The load generator, the server and PostgreSQL share the machine's cores; the report says how many.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ferry.config import Settings
from ferry.schema.loader import load_schema_file
from ferry.staging import StagingDatabase

ENVELOPE = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
            '<m:{method} xmlns:m="urn:{urn}"><sessiontoken xsi:type="xsd:string">{token}</sessiontoken>{params}'
            '</m:{method}></SOAP-ENV:Body></SOAP-ENV:Envelope>')


def fresh_database(admin_url: str) -> str:
    name = f"ferry_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    settings = Settings.from_env(database_url=db_url, data_dir=folder)
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    with StagingDatabase.open(settings) as db:
        db.catalog.apply(load_schema_file(sample))
    port = free_port()
    env = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
           "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'w.duckdb'}"}
    process = subprocess.Popen([sys.executable, "-m", "ferry.cli", "serve", "--port", str(port), "--data-dir",
                                str(folder), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/r/test", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("ferry serve did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"calls": len(ordered), "seconds": round(elapsed, 3), "calls_per_s": round(len(ordered) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


async def soap_load(url: str, clients: int, calls: int, generator: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url) as one:
        reply = await one.post("/nl/jsp/soaprouter.jsp", content=ENVELOPE.format(
            method="Logon", urn="xtk:session", token="", params="<login>admin</login><password>secret</password>"))
    token = re.search(r"<pstrSessionToken xsi:type='xsd:string'>([^<]+)<", reply.text)
    security = re.search(r"<pstrSecurityToken xsi:type='xsd:string'>([^<]+)<", reply.text)
    assert token and security, reply.text
    headers = {"Content-Type": "text/xml", "X-Security-Token": security.group(1)}
    per_client = calls // clients
    latencies: list[float] = []

    def body(n: int, i: int) -> bytes:
        return ENVELOPE.format(method="Ingest", urn="xtk:session", token=token.group(1),
                               params=f'<domDoc><sampleTable xtkschema="dem:sampleTable" '
                                      f'testcol1="c{n}-{i}" testcol2="bench"/></domDoc>').encode()

    def check(content: bytes) -> None:
        if b"<pstrSUuids" not in content:
            raise SystemExit(f"unexpected reply: {content[:500]!r}")

    async def httpx_client(n: int, count: int, record: list[float] | None) -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            for i in range(count):
                started = time.perf_counter()
                response = await http.post("/nl/jsp/soaprouter.jsp", content=body(n, i))
                if record is not None:
                    record.append(time.perf_counter() - started)
                check(response.content)

    async def aiohttp_client(n: int, count: int, record: list[float] | None) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection per client
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as http:
            for i in range(count):
                started = time.perf_counter()
                async with http.post("/nl/jsp/soaprouter.jsp", data=body(n, i)) as response:
                    content = await response.read()
                if record is not None:
                    record.append(time.perf_counter() - started)
                check(content)

    client = aiohttp_client if generator == "aiohttp" else httpx_client

    await asyncio.gather(*(client(n, 20, None) for n in range(clients)))  # warm up connections and caches
    started = time.perf_counter()
    await asyncio.gather(*(client(n, per_client, latencies) for n in range(clients)))
    return summary(latencies, time.perf_counter() - started)


async def insert_anchor(db_url: str, clients: int, calls: int) -> dict[str, float]:
    per_client = calls // clients
    latencies: list[float] = []
    sql = ("INSERT INTO ferry_stg.dem_sampletable (_uuid, _request_id, _op, _present, id, testcol1, testcol2) "
           "VALUES (%s, %s, 'insert', ARRAY['id','testcol1','testcol2'], %s, %s, 'anchor')")

    async def worker(n: int) -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            for i in range(per_client):
                row = uuid.uuid4()
                started = time.perf_counter()
                await conn.execute(sql, (row, uuid.uuid4(), str(row), f"a{n}-{i}"))
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return summary(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--generator", choices=("aiohttp", "httpx"), default="aiohttp",
                        help="load generator (aiohttp costs the shared CPUs less than httpx)")
    parser.add_argument("--database-url", default=os.environ.get("FERRY_TEST_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1/postgres"))
    args = parser.parse_args()
    db_url = fresh_database(args.database_url)
    result: dict[str, Any] = {"clients": args.clients, "cpus": os.cpu_count(), "generator": args.generator}
    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as folder:
        process, url = start_server(db_url, Path(folder))
        try:
            server_before, own_before = cpu_seconds(process.pid), own_cpu()
            result["soap_ingest"] = asyncio.run(soap_load(url, args.clients, args.calls, args.generator))
            result["soap_ingest"]["server_cpu_s"] = round(cpu_seconds(process.pid) - server_before, 2)
            result["soap_ingest"]["load_generator_cpu_s"] = round(own_cpu() - own_before, 2)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    result["insert_commit_anchor"] = asyncio.run(insert_anchor(db_url, args.clients, args.calls))
    result["ratio"] = round(result["soap_ingest"]["calls_per_s"] / result["insert_commit_anchor"]["calls_per_s"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
