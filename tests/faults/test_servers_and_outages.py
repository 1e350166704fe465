"""Staging stopped, ferry serve killed mid-sync, and two servers on one staging database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import duckdb
import httpx
import psycopg
import pytest
from fault_harness import PgServer, apply_sample_schema, new_root, start_serve

SCHEMA = "dem:sampleTable"


@pytest.mark.slow
def test_staging_stopped_calls_health_and_metrics_answer_fast(pg_servers: Callable[[str], PgServer]) -> None:
    staging = pg_servers("staging")
    db_url = staging.create_database("ferry")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    server = start_serve(db_url, folder, f"duckdb:///{folder / 'wh.duckdb'}")
    try:
        headers = server.logon()
        assert httpx.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers, timeout=10,
                          json=[{"testcol1": "before"}]).status_code == 200
        staging.stop()
        # The client timeouts are the bounds the issue sets (a call: a few seconds; health and metrics: 2 s).
        started = time.monotonic()
        call = httpx.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers, timeout=15,
                          json=[{"testcol1": "during"}])
        call_seconds = time.monotonic() - started
        assert call.status_code == 503 and call.json()["error"]["code"] == "FRY-300001", call.text
        time.sleep(1.5)  # let the staging check notice
        started = time.monotonic()
        health = httpx.get(f"{server.url}/healthz", timeout=2)
        metrics = httpx.get(f"{server.url}/metrics", timeout=2)
        probe_seconds = time.monotonic() - started
        print(f"staging stopped: call answered {call.status_code} in {call_seconds:.2f} s; healthz + metrics in "
              f"{probe_seconds:.2f} s")
        assert health.status_code == 503
        part = health.json()["parts"]["staging"]
        assert part["status"] == "down" and part["reason"]
        assert "ferry_staging_up 0.0" in metrics.text and 'ferry_part_up{part="staging"} 0.0' in metrics.text
        staging.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/healthz", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.1)
        after = httpx.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers, timeout=15,
                           json=[{"testcol1": "after"}])
        assert after.status_code == 200, after.text
    finally:
        server.stop()


@pytest.mark.slow
def test_sigkill_mid_sync_leaves_an_abandoned_run_and_loses_nothing(pg_servers: Callable[[str], PgServer]) -> None:
    staging = pg_servers("staging")
    warehouse = pg_servers("warehouse")
    db_url, wh_url = staging.create_database("ferry"), warehouse.create_database("wh")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    env = {"FERRY_BATCH_ROWS": "500"}
    server = start_serve(db_url, folder, wh_url, **env)
    headers = server.logon()
    acknowledged = 0
    with httpx.Client(timeout=30) as client:
        for start in range(0, 20_000, 1000):
            reply = client.post(f"{server.url}/api/v1/ingest/{SCHEMA}", headers=headers,
                                json=[{"testcol1": f"r{n}"} for n in range(start, start + 1000)])
            assert reply.status_code == 200, reply.text
            acknowledged += 1000
    httpx.post(f"{server.url}/api/v1/sync/{SCHEMA}", headers=headers, timeout=10)
    deadline = time.monotonic() + 30
    while True:  # kill once the run has applied a batch or two, not after it ended
        with psycopg.connect(wh_url) as conn:
            found = conn.execute("SELECT to_regclass('dem_sampletable')").fetchone()
            applied = conn.execute("SELECT count(*) FROM dem_sampletable").fetchone() if found and found[0] else None
        if applied and applied[0] > 0:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    server.kill()
    with psycopg.connect(db_url) as conn:
        states = conn.execute("SELECT state FROM ferry.workflow_runs WHERE workflow = 'ffdaReplicateStagingData'"
                              ).fetchall()
    assert ("running",) in states  # the killed run was cut short
    again = start_serve(db_url, folder, wh_url, **env)
    try:
        headers = again.logon()
        runs = httpx.get(f"{again.url}/api/v1/workflows", headers=headers, timeout=10).json()["runs"]
        abandoned = [run for run in runs if run["state"] == "abandoned"]
        assert len(abandoned) == 1 and "gone" in (abandoned[0]["error"] or ""), runs
        assert abandoned[0]["endedAt" if "endedAt" in abandoned[0] else "ended_at"]
        listed = subprocess.run([sys.executable, "-m", "ferry.cli", "workflows"], capture_output=True, text=True,
                                env={**os.environ, "FERRY_DATABASE_URL": db_url, "COLUMNS": "250"}, timeout=60)
        assert "abandoned" in listed.stdout, listed.stdout + listed.stderr
        done = httpx.post(f"{again.url}/api/v1/sync/{SCHEMA}", params={"wait": "true"}, headers=headers, timeout=120)
        assert done.status_code == 200, done.text
        with psycopg.connect(wh_url) as conn:
            total, distinct = conn.execute("SELECT count(*), count(DISTINCT testcol1) FROM dem_sampletable"
                                           ).fetchone() or (0, 0)
        print(f"SIGKILL mid-sync: {acknowledged} acknowledged, {total} synced ({distinct} distinct)")
        assert total == distinct == acknowledged
    finally:
        assert again.stop() == 0, again.log.read_text()


@pytest.mark.slow
def test_two_servers_logoff_at_once_and_another_duckdb_refused(pg_servers: Callable[[str], PgServer]) -> None:
    staging = pg_servers("staging")
    db_url = staging.create_database("ferry")
    folder_a, folder_b = new_root("serve-a"), new_root("serve-b")
    apply_sample_schema(db_url, folder_a / "data")
    a = start_serve(db_url, folder_a, f"duckdb:///{folder_a / 'wh.duckdb'}")
    b = None
    try:
        headers = a.logon()
        first = httpx.post(f"{a.url}/api/v1/sync/{SCHEMA}", params={"wait": "true"}, headers=headers, timeout=60)
        assert first.status_code == 200, first.text  # a claims its warehouse for this staging database
        b = start_serve(db_url, folder_b, f"duckdb:///{folder_b / 'wh.duckdb'}")
        # The same session, used on b (cached there), logged off on a, is refused on b at once.
        assert httpx.post(f"{b.url}/api/v1/ingest/{SCHEMA}", headers=headers, json=[{"testcol1": "b"}],
                          timeout=10).status_code == 200
        assert httpx.post(f"{a.url}/api/v1/logoff", headers=headers, timeout=10).status_code == 200
        refused = httpx.post(f"{b.url}/api/v1/ingest/{SCHEMA}", headers=headers, json=[{"testcol1": "c"}],
                             timeout=10)
        assert refused.status_code == 401, refused.text
        # b's warehouse is another DuckDB file: b refuses to sync into it, says so in health, still ingests.
        deadline = time.monotonic() + 20
        while (part := httpx.get(f"{b.url}/healthz", timeout=5).json()["parts"]["warehouse"])["status"] != "refused":
            assert time.monotonic() < deadline, part
            time.sleep(0.2)
        assert "FRY-500007" in part["reason"]
        other = b.logon()
        sync = httpx.post(f"{b.url}/api/v1/sync/{SCHEMA}", params={"wait": "true"}, headers=other, timeout=60)
        assert sync.status_code == 200 and [run["state"] for run in sync.json()["runs"]] == ["failed"], sync.text
        assert sync.json()["runs"][0]["error"].startswith("FRY-500007")
        assert httpx.post(f"{b.url}/api/v1/ingest/{SCHEMA}", headers=other, json=[{"testcol1": "d"}],
                          timeout=10).status_code == 200
        assert "FRY-500007" in b.log.read_text()
    finally:
        if b is not None:
            b.stop()
        a.stop()


@pytest.mark.slow
def test_role_ingest_never_opens_the_warehouse(pg_servers: Callable[[str], PgServer]) -> None:
    staging = pg_servers("staging")
    db_url = staging.create_database("ferry")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    wh = folder / "wh.duckdb"
    ingest = start_serve(db_url, folder, f"duckdb:///{wh}", "--role", "ingest")
    sync = start_serve(db_url, new_root("sync"), f"duckdb:///{wh}", "--role", "sync")
    try:
        headers = ingest.logon()
        assert httpx.post(f"{ingest.url}/api/v1/ingest/{SCHEMA}", headers=headers, json=[{"testcol1": "x"}],
                          timeout=10).status_code == 200
        read = httpx.get(f"{ingest.url}/api/v1/data/dem/sampleTable", headers=headers, timeout=10)
        assert read.status_code == 503 and read.json()["error"]["code"] == "FRY-500008", read.text
        assert "role ingest" in read.json()["error"]["message"]
        assert httpx.get(f"{ingest.url}/healthz", timeout=5).json()["parts"]["warehouse"]["status"] == "off"
        refused = httpx.post(f"{sync.url}/api/v1/ingest/{SCHEMA}", headers=headers, json=[{"testcol1": "y"}],
                             timeout=10)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "FRY-400020"
        assert httpx.get(f"{sync.url}/healthz", timeout=5).json()["role"] == "sync"
    finally:
        sync.stop()
        ingest.stop()


@pytest.mark.slow
def test_two_ingest_nodes_and_one_sync_node_share_a_duckdb_warehouse(pg_servers: Callable[[str], PgServer]) -> None:
    staging = pg_servers("staging")
    db_url = staging.create_database("ferry")
    folder = new_root("serve")
    apply_sample_schema(db_url, folder / "data")
    wh = folder / "wh.duckdb"
    nodes = [start_serve(db_url, new_root(f"ingest-{index}"), f"duckdb:///{wh}", "--role", "ingest")
             for index in range(2)]
    # The one process that opens the DuckDB file; continuous mode picks up what either ingest node stages.
    sync = start_serve(db_url, new_root("sync"), f"duckdb:///{wh}", "--role", "sync", FERRY_SYNC_INTERVAL="0")
    try:
        uuids = []
        for index, node in enumerate(nodes):
            headers = node.logon()
            reply = httpx.post(f"{node.url}/api/v1/ingest/{SCHEMA}", headers=headers,
                               json=[{"testcol1": f"n{index}-{row}"} for row in range(5)], timeout=10)
            assert reply.status_code == 200, reply.text
            uuids += [(node, headers, record["uuid"]) for record in reply.json()["records"]]
        assert len(uuids) == 10
        deadline = time.monotonic() + 60
        for node, headers, record in uuids:
            while (state := httpx.get(f"{node.url}/api/v1/records/{record}", headers=headers,
                                      timeout=10).json()["state"]) != "synced":
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
    finally:
        sync.stop()
        for node in nodes:
            node.stop()
    # With every server stopped the file is free: every record is there once, in one warehouse.
    with duckdb.connect(str(wh), read_only=True) as conn:
        rows = conn.execute("SELECT testcol1 FROM dem_sampletable ORDER BY testcol1").fetchall()
    assert [row[0] for row in rows] == sorted(f"n{index}-{row}" for index in range(2) for row in range(5))


@pytest.mark.slow
def test_two_servers_updates_on_shared_keys_match_the_in_order_model(pg_servers: Callable[[str], PgServer]) -> None:
    staging, warehouse = pg_servers("staging"), pg_servers("warehouse")
    db_url, wh_url = staging.create_database("ferry"), warehouse.create_database("wh")
    folder_a, folder_b = new_root("serve-a"), new_root("serve-b")
    apply_sample_schema(db_url, folder_a / "data")
    a = start_serve(db_url, folder_a, wh_url, FERRY_SYNC_INTERVAL="1")
    b = start_serve(db_url, folder_b, wh_url, FERRY_SYNC_INTERVAL="1")
    try:
        headers = a.logon()
        model: dict[str, str] = {}
        with httpx.Client(timeout=30) as client:
            for n in range(400):
                # Each call is sent after the previous one returned: staging orders them, whichever server took it.
                target = (a, b)[n % 2]
                batch = [{"testcol1": f"k{(n * 7 + i) % 25}", "testcol2": f"v{n}-{i}"} for i in range(5)]
                reply = client.post(f"{target.url}/api/v1/ingest-ext/{SCHEMA}", headers=headers,
                                    params={"key": "testcol1"}, json=[{**r, "_key": "@testcol1"} for r in batch])
                assert reply.status_code == 200, reply.text
                for record in batch:
                    model[record["testcol1"]] = record["testcol2"]
        for server in (a, b):
            done = httpx.post(f"{server.url}/api/v1/sync/{SCHEMA}", params={"wait": "true"}, headers=headers,
                              timeout=120)
            assert done.status_code == 200, done.text
        with psycopg.connect(wh_url) as conn:
            rows = conn.execute("SELECT testcol1, testcol2 FROM dem_sampletable").fetchall()
        print(f"two servers: 400 calls / 2000 updates on 25 keys, {len(rows)} records in the warehouse")
        assert sorted(rows) == sorted(model.items())
    finally:
        b.stop()
        a.stop()
