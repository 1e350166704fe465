"""A frozen or absent PostgreSQL warehouse never stops ingest; reads fail with FRY-500006 / FRY-500001."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fault_harness import PgServer, Serve, apply_sample_schema, new_root, start_serve

SCHEMA = "dem:sampleTable"


def _ingest_loop(server: Serve, headers: dict[str, str], stop: threading.Event, counts: dict[str, int]) -> None:
    with httpx.Client(timeout=30) as client:
        n = 0
        while not stop.is_set():
            n += 1
            reply = client.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers,
                                json=[{"testcol1": f"r{n}", "testcol2": "x"}])
            counts["ok" if reply.status_code == 200 else "refused"] += 1


def _read(server: Serve, headers: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    reply = httpx.get(f"{server.url}/api/v1/data/dem/sampleTable", headers=headers, params={"limit": 1}, timeout=60)
    code = reply.json().get("error", {}).get("code", "") if reply.status_code != 200 else ""
    return reply.status_code, code, time.monotonic() - started


@pytest.mark.slow
def test_frozen_warehouse_leaves_ingest_running(pg_servers: Callable[[str], PgServer]) -> None:
    staging, warehouse = pg_servers("staging"), pg_servers("warehouse")
    db_url, wh_url = staging.create_database("ferry"), warehouse.create_database("wh")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    server = start_serve(db_url, folder, wh_url, FERRY_WAREHOUSE_READ_TIMEOUT="2",
                         FERRY_WAREHOUSE_CONNECT_TIMEOUT="2", FERRY_WAREHOUSE_READ_THREADS="2")
    try:
        headers = server.logon()
        assert _read(server, headers)[0] == 200
        counts = {"ok": 0, "refused": 0}
        stop = threading.Event()
        writers = [threading.Thread(target=_ingest_loop, args=(server, headers, stop, counts)) for _ in range(4)]
        for writer in writers:
            writer.start()
        time.sleep(1)
        warehouse.freeze()
        try:
            before = counts["ok"]
            with ThreadPoolExecutor(12) as pool:
                reads = list(pool.map(lambda _: _read(server, headers), range(12)))
            during = counts["ok"] - before
            health = httpx.get(f"{server.url}/healthz", timeout=5).json()
        finally:
            warehouse.thaw()
        stop.set()
        for writer in writers:
            writer.join()
        print(f"frozen warehouse: {during} calls acknowledged during the freeze, {counts} in all; reads "
              f"{[(s, c, round(t, 2)) for s, c, t in reads]}")
        # Every read of the frozen warehouse is refused with the timeout fault, none hangs; ingest went on.
        assert {(status, code) for status, code, _ in reads} == {(503, "FRY-500006")}
        assert during > 0 and counts["refused"] == 0
        assert health["parts"]["warehouse"]["status"] == "down" and health["status"] == "degraded"
        assert health["parts"]["staging"]["status"] == "up"
        deadline = time.monotonic() + 30
        while _read(server, headers)[0] != 200:
            assert time.monotonic() < deadline, "reads did not recover after SIGCONT"
            time.sleep(0.2)
        synced = httpx.post(f"{server.url}/api/v1/sync/{SCHEMA}", params={"wait": "true"}, headers=headers,
                            timeout=120)
        assert synced.status_code == 200, synced.text
        with psycopg.connect(wh_url) as conn:
            row = conn.execute('SELECT count(*) FROM dem_sampletable').fetchone()
        assert row is not None and row[0] == counts["ok"]
    finally:
        assert server.stop() == 0, server.log.read_text()


@pytest.mark.slow
def test_serve_starts_with_the_warehouse_down_and_syncs_once_it_is_up(pg_servers: Callable[[str], PgServer]
                                                                      ) -> None:
    staging = pg_servers("staging")
    warehouse = pg_servers("warehouse")
    wh_url = warehouse.create_database("wh")
    warehouse.stop()
    db_url = staging.create_database("ferry")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    server = start_serve(db_url, folder, wh_url, FERRY_SYNC_INTERVAL="1", FERRY_WAREHOUSE_CONNECT_TIMEOUT="1")
    try:
        headers = server.logon()
        staged = httpx.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers, timeout=10,
                            json=[{"testcol1": "a"}, {"testcol1": "b"}])
        assert staged.status_code == 200, staged.text
        health = httpx.get(f"{server.url}/healthz", timeout=5)
        assert health.status_code == 200
        part = health.json()["parts"]["warehouse"]
        assert part["status"] == "down" and "FRY-500001" in part["reason"]
        read = httpx.get(f"{server.url}/api/v1/data/dem/sampleTable", headers=headers, timeout=30)
        assert read.status_code == 503 and read.json()["error"]["code"] == "FRY-500001", read.text
        warehouse.start()
        deadline = time.monotonic() + 60
        count = 0
        while count < 2:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.3)
            with psycopg.connect(wh_url) as conn:
                exists = conn.execute("SELECT to_regclass('dem_sampletable')").fetchone()
                if exists and exists[0]:
                    row = conn.execute('SELECT count(*) FROM dem_sampletable').fetchone()
                    count = int(row[0]) if row else 0
        # The sync's success has the health check look again at once (not at its next 2 s tick).
        deadline = time.monotonic() + 5
        while httpx.get(f"{server.url}/healthz", timeout=5).json()["parts"]["warehouse"]["status"] != "up":
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
    finally:
        assert server.stop() == 0, server.log.read_text()
