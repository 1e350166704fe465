"""SOAP Ingest and REST single-record calls vs single-row INSERT+COMMIT, from N clients/connections."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from anchors import insert_anchor
from harness import (
    SOAP_PATH,
    Databases,
    RawHttp,
    Server,
    drive,
    drive_raw,
    expect,
    json_record,
    percentile,
    soap_record,
    spread,
    staging,
)
from report import add


def unitary(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """SOAP Ingest and REST single-record calls vs single-row INSERT+COMMIT, from N clients/connections; then the
    same with `ferry serve --workers 2` for the client counts of `worker_clients`."""
    _unitary(cfg, rows, notes, 1, cfg["clients"])
    if cfg.get("worker_clients"):
        _unitary(cfg, rows, notes, 2, cfg["worker_clients"])


def _unitary(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str], workers: int,
             client_counts: tuple[int, ...]) -> None:
    dbs = Databases()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
            url = dbs.new("unit")
            staging(url, Path(tmp)).close()
            server = Server(url, Path(tmp), workers=workers)
            run = uuid.uuid4().hex[:6]
            soap_headers, rest_headers = server.soap_headers(), server.rest_headers("application/json")
            try:
                for clients in client_counts:
                    results: dict[str, list[dict[str, float]]] = {"soap": [], "rest": [], "anchor": []}
                    for repeat in range(cfg["repeats"]):
                        tag = f"{run}-{clients}-{repeat}"

                        async def soap(http: Any, n: int, i: int, tag: str = tag) -> None:
                            async with http.post(server.url + SOAP_PATH, headers=server.soap_headers(),
                                                 data=server.soap_body(soap_record(f"s{tag}-{n}-{i}"))) as r:
                                await expect(r, b"<pstrSUuids")

                        async def rest(http: Any, n: int, i: int, tag: str = tag) -> None:
                            async with http.post(server.url + "/api/v1/ingest/nms:recipient",
                                                 headers=server.rest_headers("application/json"),
                                                 data=json_record(f"r{tag}-{n}-{i}").encode()) as r:
                                await expect(r, b"uuid")

                        def soap_raw(n: int, i: int, tag: str = tag) -> bytes:
                            return RawHttp.request("POST", SOAP_PATH, soap_headers,
                                                   server.soap_body(soap_record(f"s{tag}-{n}-{i}")))

                        def rest_raw(n: int, i: int, tag: str = tag) -> bytes:
                            return RawHttp.request("POST", "/api/v1/ingest/nms:recipient", rest_headers,
                                                   json_record(f"r{tag}-{n}-{i}").encode())

                        for name, send, raw, marker in (("soap", soap, soap_raw, b"<pstrSUuids"),
                                                        ("rest", rest, rest_raw, b"uuid")):
                            cpu0, (b0, c0) = server.cpu_seconds(), server.group_commits()
                            if cfg["unitary_driver"] == "aiohttp":
                                lat, secs, gen_cpu = asyncio.run(drive(clients, cfg["unitary_calls"], send))
                            else:
                                lat, secs, gen_cpu = asyncio.run(drive_raw(clients, cfg["unitary_calls"], "127.0.0.1",
                                                                           server.port, raw, marker))
                            b1, c1 = server.group_commits()
                            results[name].append({"per_commit": (c1 - c0) / max(1, b1 - b0),
                                                  "rate": len(lat) / secs, "p50": percentile(lat, 0.5),
                                                  "p99": percentile(lat, 0.99), "gen_cpu": gen_cpu / secs,
                                                  "server_cpu": (server.cpu_seconds() - cpu0) / len(lat)})
                        results["anchor"].append(asyncio.run(insert_anchor(url, clients, cfg["unitary_calls"], tag)))
                    anchor = [r["rate"] for r in results["anchor"]]
                    for name in ("soap", "rest"):
                        rates = [r["rate"] for r in results[name]]
                        label = f"unitary {name.upper()} {clients} clients" + (
                            f", --workers {workers}" if workers > 1 else "")
                        add(rows, label, statistics.median(rates), statistics.median(anchor), ">= 1.0", "calls/s")
                        med = {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
                        notes.append(f"{label}: p50 {med['p50'] * 1000:.1f} ms, p99 {med['p99'] * 1000:.1f} ms "
                                     f"(anchor p50 {statistics.median(r['p50'] for r in results['anchor']) * 1000:.1f}"
                                     f" ms, p99 {statistics.median(r['p99'] for r in results['anchor']) * 1000:.1f} "
                                     f"ms, {min(r['connections'] for r in results['anchor']):.0f} connections); "
                                     f"spread {spread(rates):.0%} (anchor {spread(anchor):.0%}); server CPU "
                                     f"{med['server_cpu'] * 1e6:.0f} µs/call; load generator "
                                     f"({cfg['unitary_driver']}) CPU {med['gen_cpu']:.0%} of one core, "
                                     f"{med['gen_cpu'] / med['rate'] * 1e6:.0f} "
                                     f"µs/call (anchor's psycopg clients "
                                     f"{statistics.median(r['gen_cpu_per_call'] for r in results['anchor']) * 1e6:.0f}"
                                     f" µs/call)"
                                     # /healthz answers for one worker: its counts say nothing of the others'.
                                     + (f"; {med['per_commit']:.1f} calls per group commit" if workers == 1 else ""))
            finally:
                server.stop()
    finally:
        dbs.drop()

