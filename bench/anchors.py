"""The raw anchors of the write scenarios: single-row INSERT+COMMIT and COPY into the staging table."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
from harness import percentile
from soap_unitary import own_cpu


def free_connections(url: str) -> int:
    """Connections PostgreSQL can still take, less a margin for ferry's pool and others' tests."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
                           ).fetchone()
    return max(1, int(row[0]) - 20) if row else 1


async def insert_anchor(url: str, clients: int, calls: int, tag: str) -> dict[str, float]:
    """Single-row INSERT+COMMIT (autocommit) into ferry_stg.nms_recipient from `clients` connections."""
    clients = min(clients, free_connections(url))
    per_client = calls // clients
    latencies: list[float] = []
    statement = ('INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _present, id, email, "firstName", '
                 '"lastName", gender) VALUES (%s, %s, \'insert\', ARRAY[\'id\',\'email\',\'firstName\',\'lastName\','
                 '\'gender\'], %s, %s, \'Ann\', \'Lee\', 1)')

    async def worker(n: int) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for i in range(per_client):
                row = uuid.uuid4()
                started = time.perf_counter()
                await conn.execute(statement, (row, uuid.uuid4(), str(row), f"a{tag}-{n}-{i}@x.test"))
                latencies.append(time.perf_counter() - started)

    cpu0, started = own_cpu(), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    secs, cpu = time.perf_counter() - started, own_cpu() - cpu0
    return {"rate": len(latencies) / secs, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "connections": clients, "gen_cpu_per_call": cpu / max(1, len(latencies))}


async def copy_anchor(url: str, clients: int, calls: int, size: int, tag: str) -> float:
    """COPY of the same staging rows, `size` per COPY (one transaction each), from `clients` connections."""
    per_client = calls // clients

    async def worker(n: int) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for i in range(per_client):
                async with conn.cursor() as cur, cur.copy(
                        'COPY ferry_stg.nms_recipient (_uuid, _request_id, _op, _present, id, email, "firstName", '
                        '"lastName", gender) FROM STDIN') as copy:
                    request = uuid.uuid4()
                    for k in range(size):
                        row = uuid.uuid4()
                        await copy.write_row((row, request, "insert", ["id", "email", "firstName", "lastName",
                                                                       "gender"], str(row),
                                              f"cc{tag}-{n}-{i}-{k}@x.test", "Ann", "Lee", 1))

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return per_client * clients * size / (time.perf_counter() - started)

