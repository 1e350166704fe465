"""CPU of `ferry serve` per 1,000-record collection call (SOAP and NDJSON REST), bodies built before the timing.

    FERRY_BENCH_DATABASE_URL=postgresql://... python bench/collection_cpu.py [--calls 60] [--kinds soap,rest]

Wall-clock ratios swing with the box's load; the server process's own CPU seconds per call (from /proc) move much
less, so this is the figure to compare two trees by (alternate them). Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SOAP_PATH, Databases, Server, expect, json_record, soap_record, staging

SIZE = 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(server: Server, kind: str, bodies: list[bytes]) -> tuple[float, float]:
    """(server CPU ms per call, records/s) for `bodies` sent from 2 clients, after one warm-up call."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async def send(body: bytes) -> None:
            if kind == "soap":
                async with http.post(server.url + SOAP_PATH, headers=server.soap_headers(), data=body) as reply:
                    await expect(reply, b"<pstrSUuids")
            else:
                async with http.post(server.url + "/api/v1/ingest/nms:recipient", data=body,
                                     headers=server.rest_headers("application/x-ndjson")) as reply:
                    await expect(reply, b"uuid")

        await send(bodies[0])
        timed = bodies[1:]
        before, started = cpu_seconds(server.process.pid), time.perf_counter()

        async def client(mine: list[bytes]) -> None:
            for body in mine:
                await send(body)

        await asyncio.gather(client(timed[0::2]), client(timed[1::2]))
        seconds = time.perf_counter() - started
        return 1000 * (cpu_seconds(server.process.pid) - before) / len(timed), len(timed) * SIZE / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--kinds", default="soap,rest")
    args = parser.parse_args()
    dbs = Databases()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
            url = dbs.new("cpu")
            staging(url, Path(tmp)).close()
            server = Server(url, Path(tmp))
            try:
                run = uuid.uuid4().hex[:6]
                bodies: dict[str, Any] = {
                    "soap": [server.soap_body('<recipient-collection xtkschema="nms:recipient">'
                                              + "".join(soap_record(f"s{run}-{i}-{k}") for k in range(SIZE))
                                              + "</recipient-collection>") for i in range(args.calls + 1)],
                    "rest": ["\n".join(json_record(f"r{run}-{i}-{k}") for k in range(SIZE)).encode()
                             for i in range(args.calls + 1)],
                }
                for kind in args.kinds.split(","):
                    per_call, rate = asyncio.run(measure(server, kind, bodies[kind]))
                    print(f"{kind}: server {per_call:.1f} ms CPU per {SIZE}-record call, {rate:,.0f} records/s, "
                          f"load {os.getloadavg()[0]:.1f}")
            finally:
                server.stop()
    finally:
        dbs.drop()


if __name__ == "__main__":
    main()
