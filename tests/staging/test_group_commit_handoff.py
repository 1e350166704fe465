"""Calls submitted in one turn of the event loop reach the writers together and commit as one group (within the
group limits), not one group per call."""

from __future__ import annotations

import asyncio

import psycopg

from ferry.ingest import Method, build_call, records_from_json
from ferry.staging import StagingDatabase
from ferry.staging.group_commit import GroupCommitter


def test_one_turn_of_calls_is_one_group_within_the_limits(staging_db: StagingDatabase) -> None:
    groups: list[int] = []

    async def run() -> None:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry, writers=3, max_calls=4)
        writer.observer = lambda calls, _waited: groups.append(calls)
        await writer.start()
        try:
            calls = [build_call(staging_db.registry, Method.INGEST, records_from_json({"email": f"{i}@x"},
                                                                                      "nms:recipient"))
                     for i in range(6)]
            await asyncio.gather(*(writer.submit(call) for call in calls))  # all submitted in one turn
        finally:
            await writer.close()

    asyncio.run(run())
    assert sorted(groups, reverse=True) == [4, 2]  # split at max_calls, never one group per call
    with psycopg.connect(staging_db.url) as conn:
        emails = [row[0] for row in conn.execute("SELECT email FROM ferry_stg.nms_recipient ORDER BY _seq")]
    assert sorted(emails) == [f"{i}@x" for i in range(6)]


def test_two_writers_by_default(staging_db: StagingDatabase) -> None:
    async def run() -> int:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry)
        await writer.start()
        try:
            return sum(1 for thread in writer._threads if thread.is_alive())
        finally:
            await writer.close()

    assert asyncio.run(run()) == 2
