"""1,000-record SOAP collections and NDJSON REST bodies vs COPY of the same rows (1,000 per COPY)."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from anchors import copy_anchor
from harness import SOAP_PATH, Databases, Server, drive, expect, json_record, soap_record, spread, staging
from report import add


def collection(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """1,000-record SOAP collections and NDJSON REST bodies vs COPY of the same rows (1,000 per COPY)."""
    dbs = Databases()
    clients, size = 2, 1000
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
            url = dbs.new("coll")
            staging(url, Path(tmp)).close()
            server = Server(url, Path(tmp))
            run = uuid.uuid4().hex[:6]
            results: dict[str, list[float]] = {"soap": [], "rest": [], "copy": []}
            try:
                for repeat in range(cfg["repeats"]):
                    tag = f"{run}-{repeat}"

                    async def soap(http: Any, n: int, i: int, tag: str = tag) -> None:
                        body = ("<recipient-collection xtkschema=\"nms:recipient\">"
                                + "".join(soap_record(f"cs{tag}-{n}-{i}-{k}") for k in range(size))
                                + "</recipient-collection>")
                        async with http.post(server.url + SOAP_PATH, headers=server.soap_headers(),
                                             data=server.soap_body(body)) as r:
                            await expect(r, b"<pstrSUuids")

                    async def rest(http: Any, n: int, i: int, tag: str = tag) -> None:
                        body = "\n".join(json_record(f"cr{tag}-{n}-{i}-{k}") for k in range(size)).encode()
                        async with http.post(server.url + "/api/v1/ingest/nms:recipient",
                                             headers=server.rest_headers("application/x-ndjson"), data=body) as r:
                            await expect(r, b"uuid")

                    for name, send in (("soap", soap), ("rest", rest)):
                        lat, secs, _ = asyncio.run(drive(clients, cfg["collections"], send))
                        results[name].append(len(lat) * size / secs)
                    results["copy"].append(asyncio.run(copy_anchor(url, clients, cfg["collections"], size, tag)))
            finally:
                server.stop()
            for name in ("soap", "rest"):
                label = f"collection {name.upper()} {size} records"
                add(rows, label, statistics.median(results[name]), statistics.median(results["copy"]), ">= 0.5",
                    "records/s")
                notes.append(f"{label}: {clients} clients, spread {spread(results[name]):.0%} "
                             f"(COPY {spread(results['copy']):.0%}); body built by the client inside the timing")
    finally:
        dbs.drop()

