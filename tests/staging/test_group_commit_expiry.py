"""Every submitted call gets an answer in bounded time, though no writer ever takes it (one sweeping timer watches
every call in flight)."""

from __future__ import annotations

import asyncio

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import Method, build_call, records_from_json
from ferry.staging import StagingDatabase
from ferry.staging.group_commit import GroupCommitter, Limits


def test_calls_no_writer_takes_are_refused_and_taken_ones_told_in_doubt(staging_db: StagingDatabase) -> None:
    async def run() -> list[BaseException | None]:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry,
                                limits=Limits(queue=0.3, answer=0.3, per_row=0.0))
        writer._loop = asyncio.get_running_loop()  # no writer threads: nothing is ever taken by one
        calls = [build_call(staging_db.registry, Method.INGEST, records_from_json({"email": f"{i}@x"},
                                                                                  "nms:recipient"))
                 for i in range(3)]
        submitted = [asyncio.ensure_future(writer.submit(call)) for call in calls]
        await asyncio.sleep(0.05)
        taken = writer._queue.get_nowait()[0]  # as a writer would take it, then never answer
        taken.state = "taken"
        outcomes = await asyncio.gather(*submitted, return_exceptions=True)
        assert not writer._waiting
        return list(outcomes)

    outcomes = asyncio.run(run())
    codes = [outcome.code if isinstance(outcome, FerryError) else outcome for outcome in outcomes]
    assert codes == [errors.STAGING_IN_DOUBT, errors.STAGING_UNAVAILABLE, errors.STAGING_UNAVAILABLE]
