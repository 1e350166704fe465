"""The group committer's answers never lie: a commit in doubt is looked up before answering, an error means nothing
was staged, every wait is bounded, and the writers never use asyncio's default executor."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import Call, Method, build_call, records_from_json
from ferry.staging import StagingDatabase
from ferry.staging.group_commit import GroupCommitter, Limits

sys.path.insert(0, str(Path(__file__).parent))
from lossy_proxy import PgProxy

FAST = Limits(connect=1.0, retry=0.5, resolve=1.0, queue=5.0, answer=30.0)


@pytest.fixture
def proxy(staging_db: StagingDatabase) -> Iterator[PgProxy]:
    found = PgProxy(staging_db.url)
    yield found
    found.close()


def committer(db: StagingDatabase, url: str, limits: Limits = FAST) -> GroupCommitter:
    # An unopened pool only carries the connection settings: the writers open their own connections.
    return GroupCommitter(ConnectionPool(url, open=False, kwargs={"autocommit": True}), lambda: db.registry,
                          writers=1, limits=limits)


def recipients(db: StagingDatabase, tag: str, size: int = 1) -> Call:
    records = [{"email": f"{tag}-{index}@x.test"} for index in range(size)]
    return build_call(db.registry, Method.INGEST, records_from_json(records, default_schema="nms:recipient"))


def staged(db: StagingDatabase, call: Call) -> tuple[int, int]:
    """(requests, rows) staging holds for this call."""
    with psycopg.connect(db.url) as conn:
        heads = conn.execute("SELECT count(*) FROM ferry.requests WHERE id = %s", (call.request_id,)).fetchone()
        rows = conn.execute("SELECT count(*) FROM ferry_stg.nms_recipient WHERE _request_id = %s",
                            (call.request_id,)).fetchone()
    assert heads is not None and rows is not None
    return int(heads[0]), int(rows[0])


async def run(writer: GroupCommitter, *calls: Call) -> list[object]:
    await writer.start()
    try:
        return list(await asyncio.gather(*(writer.submit(call) for call in calls), return_exceptions=True))
    finally:
        await writer.close()


@pytest.mark.parametrize(("size", "marker"), [(1, b"INSERT INTO ferry.requests"), (200, b"COMMIT")])
def test_a_commit_whose_reply_is_lost_is_answered_success(staging_db: StagingDatabase, proxy: PgProxy, size: int,
                                                          marker: bytes) -> None:
    # One row: the one autocommitted INSERT; 200 rows: COPY in a transaction, the COMMIT's reply is lost.
    call = recipients(staging_db, f"lost{size}", size)
    writer = committer(staging_db, proxy.url)
    proxy.lose_reply_to(marker)
    assert asyncio.run(run(writer, call)) == [None]
    assert proxy.cut == 1 and writer.in_doubt_resolved == 1
    assert staged(staging_db, call) == (1, size)


def test_a_commit_in_doubt_while_staging_stays_unreachable_is_not_answered_as_refused(
        staging_db: StagingDatabase, proxy: PgProxy) -> None:
    first, second = recipients(staging_db, "before"), recipients(staging_db, "doubt")
    writer = committer(staging_db, proxy.url)

    async def scenario() -> object:
        await writer.start()
        try:
            await writer.submit(first)  # the writer's connection is open
            proxy.accepting = False  # from now on no new connection reaches PostgreSQL
            proxy.lose_reply_to(b"INSERT INTO ferry.requests")
            try:
                return await writer.submit(second)
            except FerryError as exc:
                return exc
        finally:
            await writer.close()

    outcome = asyncio.run(scenario())
    assert isinstance(outcome, FerryError) and outcome.code is errors.STAGING_IN_DOUBT
    assert str(second.request_id) in outcome.message
    assert staged(staging_db, second) == (1, 1)  # it was staged: the answer said "may have been", not "nothing"


def test_a_call_staging_refuses_stages_nothing_and_the_rest_of_its_group_is_staged(
        staging_db: StagingDatabase) -> None:
    existing = recipients(staging_db, "existing")
    assert asyncio.run(run(committer(staging_db, staging_db.url), existing)) == [None]
    good = [recipients(staging_db, f"good{index}") for index in range(3)]
    clash = recipients(staging_db, "clash")
    # Its row carries a gender (a byte: smallint) out of range, as if a converter had let it through: staging
    # refuses it (SQLSTATE 22003), certainly not committed, caused by its data. (Staged UUIDs are no longer a unique
    # key in the append-only log, so a reused UUID is not a refusal any more.)
    op = clash.operations[0]
    bad = dataclasses.replace(clash, operations=(dataclasses.replace(op, values={**op.values, "gender": 10**6}),))
    outcomes = asyncio.run(run(committer(staging_db, staging_db.url), good[0], bad, good[1], good[2]))
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    refused = outcomes[1]
    assert isinstance(refused, FerryError) and refused.code is errors.STAGING_REFUSED
    assert "nothing was staged" in refused.message
    assert staged(staging_db, bad) == (0, 0)
    assert [staged(staging_db, call) for call in good] == [(1, 1)] * 3


def test_staging_unreachable_answers_a_coded_503_and_stages_nothing(staging_db: StagingDatabase,
                                                                    proxy: PgProxy) -> None:
    proxy.accepting = False
    call = recipients(staging_db, "down")
    outcome = asyncio.run(run(committer(staging_db, proxy.url), call))[0]
    assert isinstance(outcome, FerryError) and outcome.code is errors.STAGING_UNAVAILABLE
    assert "nothing was staged" in outcome.message
    assert staged(staging_db, call) == (0, 0)


def test_the_writers_do_not_need_the_default_executor(staging_db: StagingDatabase) -> None:
    release = threading.Event()
    calls = [recipients(staging_db, f"busy{index}") for index in range(5)]

    async def scenario() -> list[object]:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=2)
        loop.set_default_executor(executor)
        # What a frozen warehouse did: every thread of the default executor stuck in a read.
        stuck = [asyncio.to_thread(release.wait) for _ in range(4)]
        tasks = [asyncio.ensure_future(item) for item in stuck]
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry)
        await writer.start()
        try:
            # A bound so that a writer waiting on the stuck executor fails this test instead of hanging it.
            return list(await asyncio.wait_for(asyncio.gather(*(writer.submit(call) for call in calls)), 60))
        finally:
            release.set()
            await asyncio.gather(*tasks)
            await writer.close()

    assert asyncio.run(scenario()) == [None] * 5
    assert [staged(staging_db, call) for call in calls] == [(1, 1)] * 5


def test_a_key_another_server_is_committing_waits_for_it_and_gets_its_answer(staging_db: StagingDatabase) -> None:
    from ferry.staging.idempotency import Claim, Stored, fingerprint

    digest = fingerprint("Ingest", "nms:recipient", "application/json", b'{"email": "k@x"}')
    theirs, mine = recipients(staging_db, "theirs"), recipients(staging_db, "mine")
    other = psycopg.connect(staging_db.url)  # another server's transaction, not committed yet
    other.execute("INSERT INTO ferry.idempotency (operator, key, fingerprint, status, body, request_id) "
                  "VALUES ('ann', 'k', %s, 200, 'first answer', %s)", (digest, theirs.request_id))
    writer = committer(staging_db, staging_db.url)

    async def scenario() -> object:
        await writer.start()
        try:
            pending = asyncio.ensure_future(writer.submit(mine, Claim("ann", "k", digest, 200, b"my answer")))
            await asyncio.sleep(0.5)  # the writer is blocked on the key's unique index
            assert not pending.done()
            await asyncio.to_thread(other.commit)
            return await pending
        finally:
            other.close()
            await writer.close()

    assert asyncio.run(scenario()) == Stored(200, b"first answer", True)
    assert staged(staging_db, mine) == (0, 0)


def test_a_refusal_after_a_doubt_stays_true_when_the_old_backend_lives_on(staging_db: StagingDatabase,
                                                                         proxy: PgProxy) -> None:
    """Issue 27: the connection breaks while its statement waits on the server (a lock); the fresh connection finds
    the call not committed, the retry budget is spent, and the call is answered "nothing was staged" — yet the old
    backend lives on and commits once the lock goes. The lookup must first end the old backend."""
    call = recipients(staging_db, "orphan")
    writer = committer(staging_db, proxy.url, dataclasses.replace(FAST, retry=0.1, resolve=0.5))
    holder = psycopg.connect(staging_db.url)
    try:
        holder.execute("LOCK TABLE ferry.requests IN EXCLUSIVE MODE")  # INSERTs wait; reads go on

        async def scenario() -> object:
            await writer.start()
            try:
                try:
                    return await writer.submit(call)
                except FerryError as exc:
                    return exc
            finally:
                await writer.close()

        def blocked_inserts() -> int:
            with psycopg.connect(staging_db.url, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query "
                                   "LIKE '%INSERT INTO ferry.requests%' AND pid <> pg_backend_pid()").fetchone()
            return int(row[0]) if row else 0

        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(asyncio.run, scenario())
            for _ in range(500):  # the call's INSERT reaches the server and waits on the lock
                if blocked_inserts():
                    break
                time.sleep(0.01)
            assert blocked_inserts() == 1
            time.sleep(0.7)  # past the writer's retry + resolve budget (0.6 s): a time, so no poll can stand in
            proxy.cut_all()
            outcome = answer.result(timeout=60)
        assert proxy.cut == 1
        assert isinstance(outcome, FerryError) and outcome.code is errors.STAGING_UNAVAILABLE, outcome
        assert "nothing was staged" in outcome.message
        assert blocked_inserts() == 0  # the old backend was ended before the answer, not left waiting
    finally:
        holder.rollback()
        holder.close()
    assert staged(staging_db, call) == (0, 0)  # the answer was true
