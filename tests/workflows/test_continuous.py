"""Continuous sync (FERRY_SYNC_INTERVAL=0): staged rows wake a run by NOTIFY, runs coalesce, the listener recovers."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ferry.config import Settings
from ferry.ingest import Method, RawRecord, build_call
from ferry.staging import StagingDatabase, notify
from ferry.sync.workflow import run_once
from ferry.warehouse import Warehouse, open_warehouse
from ferry.workflows import Scheduler
from ferry.workflows.continuous import Coalescer

SCHEMA = "nms:recipient"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = open_warehouse(f"duckdb:///{tmp_path / 'continuous.duckdb'}")
    yield wh
    wh.close()


@pytest.fixture(params=["duckdb", "postgresql"])
def any_warehouse(request: pytest.FixtureRequest, tmp_path: Path,
                  new_postgres_url: Callable[[], str]) -> Iterator[Warehouse]:
    url = f"duckdb:///{tmp_path / 'any.duckdb'}" if request.param == "duckdb" else new_postgres_url()
    wh = open_warehouse(url)
    yield wh
    wh.close()


def stage(db: StagingDatabase, tag: str, count: int = 1) -> list[str]:
    """One Ingest call (its own transaction) of `count` recipients; returns their emails."""
    emails = [f"{tag}-{i}@x.test" for i in range(count)]
    raw = [RawRecord(i + 1, SCHEMA, {"email": email}, None, None) for i, email in enumerate(emails)]
    db.store.stage([build_call(db.registry, Method.INGEST, raw)])
    return emails


def staged(db: StagingDatabase) -> int:
    return next(s.counts.get("staged", 0) for s in db.store.status() if s.schema_id == SCHEMA)


def runs(db: StagingDatabase) -> int:
    with db.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM ferry.workflow_runs WHERE workflow = 'ffdaReplicateStagingData' "
                           "AND schema_id = %s", (SCHEMA,)).fetchone()
    return int(row[0]) if row else 0


def until(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def continuous(db: StagingDatabase, warehouse: Warehouse, settings: Settings, poll: float = 3600.0) -> Scheduler:
    """A started scheduler in continuous mode whose fallback poll is `poll` seconds (long: only NOTIFY wakes it)."""
    scheduler = Scheduler(db, warehouse, dataclasses.replace(settings, sync_interval=0))
    scheduler.poll_seconds = poll
    scheduler.start()
    assert scheduler.listener is not None and scheduler.coalescer is not None
    until(lambda: scheduler.listener is not None and scheduler.listener.connections == 1, "never listened")
    until(lambda: scheduler.coalescer is not None and not scheduler.coalescer.busy(), "catch-up run never ended")
    return scheduler


def test_staged_rows_become_queryable_without_a_trigger(staging_db: StagingDatabase, any_warehouse: Warehouse,
                                                        settings: Settings) -> None:
    warehouse = any_warehouse
    scheduler = continuous(staging_db, warehouse, settings)
    try:
        emails = stage(staging_db, "cont", 3)
        until(lambda: staged(staging_db) == 0, "the staged rows were never synced")
    finally:
        scheduler.stop()
    schema = staging_db.registry.get(SCHEMA)
    assert schema is not None
    assert set(emails) <= {row["email"] for row in warehouse.read(schema)}


def test_a_burst_of_calls_is_coalesced_into_few_runs(staging_db: StagingDatabase, warehouse: Warehouse,
                                                     settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    scheduler = continuous(staging_db, warehouse, settings)
    before = runs(staging_db)
    release = threading.Event()

    def held(*args: object, **kwargs: object) -> object:
        release.wait(30)  # the first run of the burst stays busy until every call is staged
        return run_once(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("ferry.workflows.scheduler.run_once", held)
    calls = 30
    try:
        for i in range(calls):
            stage(staging_db, f"burst{i}")
        listener = scheduler.listener
        assert listener is not None
        until(lambda: listener.notifications >= calls, "a commit was not notified")
        release.set()
        until(lambda: staged(staging_db) == 0, "the burst was never synced")
        until(lambda: scheduler.coalescer is not None and not scheduler.coalescer.busy(), "runs never ended")
    finally:
        release.set()
        scheduler.stop()
    # One run woke by the first commit, one pending behind it for all the others (not one run per call).
    assert runs(staging_db) - before <= 2


def test_a_broken_listener_connection_recovers(staging_db: StagingDatabase, warehouse: Warehouse,
                                               settings: Settings) -> None:
    scheduler = continuous(staging_db, warehouse, settings)
    listener = scheduler.listener
    assert listener is not None
    try:
        pid = listener.backend_pid
        with staging_db.pool.connection() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        until(lambda: listener.connections == 2 and listener.backend_pid not in (None, pid), "never reconnected")
        stage(staging_db, "after-break", 2)
        until(lambda: staged(staging_db) == 0, "rows staged after the break were never synced")
    finally:
        scheduler.stop()


def test_rows_whose_notification_is_lost_are_synced_by_the_fallback_poll(
        staging_db: StagingDatabase, warehouse: Warehouse, settings: Settings) -> None:
    scheduler = continuous(staging_db, warehouse, settings, poll=0.5)
    try:
        with staging_db.pool.connection() as conn:
            # Triggers do not fire for a session in replica mode: these rows send no notification.
            conn.execute("SET session_replication_role = replica")
            stage_quietly(conn)
            conn.execute("RESET session_replication_role")
        until(lambda: staged(staging_db) == 0, "the poll never synced the unnotified row")
    finally:
        scheduler.stop()


def stage_quietly(conn: psycopg.Connection) -> None:
    request = uuid.uuid4()
    conn.execute("INSERT INTO ferry.requests (id, schema_id, method, record_count, origin) "
                 "VALUES (%s, %s, 'Ingest', 1, 'test')", (request, SCHEMA))
    conn.execute("INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _present, id, email) "
                 "VALUES (gen_random_uuid(), %s, 'insert', ARRAY['id','email'], gen_random_uuid()::text, "
                 "'quiet@x.test')", (request,))


def test_one_notification_per_statement_also_through_a_partitioned_parent(staging_db: StagingDatabase) -> None:
    with staging_db.pool.connection() as conn:
        conn.execute("CREATE TABLE ferry_stg.parted (_seq bigint NOT NULL, v text) PARTITION BY RANGE (_seq)")
        conn.execute("CREATE TABLE ferry_stg.parted_1 PARTITION OF ferry_stg.parted FOR VALUES FROM (0) TO (1000)")
        conn.execute("CREATE TABLE ferry_stg.parted_2 PARTITION OF ferry_stg.parted FOR VALUES FROM (1000) TO (2000)")
        assert notify.install(conn, sql.Identifier("ferry_stg", "parted"), "tst:parted")
        assert not notify.install(conn, sql.Identifier("ferry_stg", "parted"), "tst:parted")  # already there
    with psycopg.connect(staging_db.url, autocommit=True) as listen, staging_db.pool.connection() as conn:
        listen.execute(f"LISTEN {notify.CHANNEL}")
        with conn.transaction():
            conn.execute("INSERT INTO ferry_stg.parted SELECT g, 'x' FROM generate_series(1, 1500) g")
            assert list(listen.notifies(timeout=0.3)) == []  # nothing before the commit
        with conn.cursor().copy("COPY ferry_stg.parted (_seq, v) FROM STDIN") as copy:
            for g in range(1600, 1700):
                copy.write_row((g, "y"))
        payloads = [n.payload for n in listen.notifies(timeout=1.0, stop_after=3)]
    assert payloads == ["tst:parted", "tst:parted"]  # one per statement (1,500 rows over two partitions; a COPY)


def test_every_staging_table_has_its_trigger(staging_db: StagingDatabase) -> None:
    with staging_db.pool.connection() as conn:
        conn.execute(sql.SQL("DROP TRIGGER {} ON ferry_stg.nms_recipient").format(sql.Identifier(notify.TRIGGER)))
    assert staging_db.catalog.install_notify() == [SCHEMA]  # what a process opening staging repairs
    assert staging_db.catalog.install_notify() == []


def test_idle_runs_of_the_schedule_are_counted_not_recorded_and_asked_ones_are_recorded(
        staging_db: StagingDatabase, warehouse: Warehouse, settings: Settings) -> None:
    from ferry.sync import runs as run_records

    def idle() -> int:
        return run_records.idle_counts().get(("ffdaReplicateStagingData", SCHEMA, "empty"), 0)

    before, idle_before = runs(staging_db), idle()
    scheduler = continuous(staging_db, warehouse, settings)
    try:
        for _ in range(3):  # the fallback poll of every schema, finding nothing
            scheduler._request_all()
            until(lambda: scheduler.coalescer is not None and not scheduler.coalescer.busy(), "runs never ended")
        assert idle() >= idle_before + 3
        assert runs(staging_db) == before  # none recorded
        stage(staging_db, "busy")
        until(lambda: staged(staging_db) == 0, "the row was not synced")
        until(lambda: not scheduler.coalescer or not scheduler.coalescer.busy(), "the run never ended")
        assert runs(staging_db) == before + 1  # the run that read the row
        with staging_db.pool.connection() as conn:
            assert conn.execute("SELECT state, rows_read FROM ferry.workflow_runs WHERE schema_id = %s "
                                "ORDER BY started_at DESC LIMIT 1", (SCHEMA,)).fetchone() == ("succeeded", 1)
        [asked] = scheduler.trigger(SCHEMA)  # a run someone asked for is recorded even when it reads nothing
        assert scheduler.wait([asked])[0].idle
    finally:
        scheduler.stop()
    with staging_db.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM ferry.workflow_runs WHERE id = %s", (asked,)).fetchone() == (1,)


def test_a_commit_during_a_run_is_synced_by_that_run(staging_db: StagingDatabase, warehouse: Warehouse,
                                                     settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit notified while a run applies is taken by that run (no second run), which goes on past its
    horizon; one waiting for the worker (another schema's run, a run asked for) stops it following."""
    from ferry.sync import workflow

    scheduler = continuous(staging_db, warehouse, settings)
    coalescer = scheduler.coalescer
    assert coalescer is not None
    before = runs(staging_db)
    applies = 0
    original = workflow._apply

    def apply_then_commit(*args: object, **kwargs: object) -> object:
        nonlocal applies
        applies += 1
        outcome = original(*args, **kwargs)  # type: ignore[arg-type]
        if applies == 1:
            asked = coalescer.requests
            stage(staging_db, "during")
            until(lambda: coalescer.requests > asked, "the commit was not notified to the running run")
        return outcome

    monkeypatch.setattr(workflow, "_apply", apply_then_commit)
    try:
        stage(staging_db, "first")
        until(lambda: staged(staging_db) == 0 and applies >= 2, "the run did not follow the commit")
        until(lambda: not coalescer.busy(), "the run never ended")
    finally:
        scheduler.stop()
    assert runs(staging_db) == before + 1  # one run read both calls
    with staging_db.pool.connection() as conn:
        assert conn.execute("SELECT rows_read FROM ferry.workflow_runs WHERE schema_id = %s "
                            "ORDER BY started_at DESC LIMIT 1", (SCHEMA,)).fetchone() == (2,)
    schema = staging_db.registry.get(SCHEMA)
    assert schema is not None
    emails = {row["email"] for row in warehouse.read(schema)}
    assert {"first-0@x.test", "during-0@x.test"} <= emails


def test_take_pending_is_for_the_running_run_only() -> None:
    from concurrent.futures import Future

    started: list[Callable[[], None]] = []
    futures: list[Future[object]] = []

    def submit(_schema: str, begin: Callable[[], None]) -> Future[object]:
        started.append(begin)
        futures.append(Future())
        return futures[-1]

    coalescer = Coalescer(submit)
    coalescer.request("a")
    coalescer.request("a")  # queued, not started: dropped
    assert not coalescer.take_pending("a")
    started[0]()
    assert not coalescer.take_pending("a")  # running, nothing notified since
    coalescer.request("a")
    assert coalescer.take_pending("a") and not coalescer.take_pending("a")  # taken once
    futures[0].set_result(None)
    assert len(started) == 1 and not coalescer.busy()  # taken by the run: no second run


def test_a_run_waiting_for_the_worker_stops_the_running_one_following(
        staging_db: StagingDatabase, warehouse: Warehouse, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ferry.sync import workflow

    scheduler = continuous(staging_db, warehouse, settings)
    coalescer = scheduler.coalescer
    assert coalescer is not None
    before = runs(staging_db)
    asked: list[uuid.UUID] = []
    original = workflow._apply

    def held(*args: object, **kwargs: object) -> object:
        if not asked:
            asked.extend(scheduler.trigger(SCHEMA))  # queued behind the running run
            notified = coalescer.requests
            stage(staging_db, "during")
            until(lambda: coalescer.requests > notified, "the commit was not notified")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workflow, "_apply", held)
    try:
        stage(staging_db, "first")
        until(lambda: bool(asked), "no run started")
        [result] = scheduler.wait(asked, timeout=30)
        until(lambda: not coalescer.busy(), "runs never ended")
    finally:
        scheduler.stop()
    assert result.state == "succeeded" and result.counts["read"] == 1  # the asked-for run synced "during"
    assert staged(staging_db) == 0
    with staging_db.pool.connection() as conn:
        rows = conn.execute("SELECT id, rows_read FROM ferry.workflow_runs WHERE schema_id = %s "
                            "ORDER BY started_at DESC LIMIT 2", (SCHEMA,)).fetchall()
    # The first run did not follow the commit: the run waiting for the worker had its turn and read it.
    assert [(r[0] == asked[0], r[1]) for r in rows] == [(True, 1), (False, 1)]
    assert runs(staging_db) == before + 2
