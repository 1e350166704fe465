"""The group-commit writers' commits carry no NOTIFY (it would make each commit take PostgreSQL's database-wide
notify lock across its WAL flush, one writer's commit at a time); a separate session notifies once they committed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from ferry.ingest import Method, build_call, records_from_json
from ferry.staging import StagingDatabase, group_commit, notify
from ferry.staging.group_commit import GroupCommitter

_INSERT = ("INSERT INTO ferry_stg.nms_recipient (_uuid, _request_id, _op, _present, email) "
           "VALUES (%s, %s, 'insert', ARRAY['email'], %s)")


def _notified_by(listener: psycopg.Connection) -> list[tuple[str, int]]:
    return [(note.payload, note.pid) for note in listener.notifies(timeout=1.0, stop_after=1)]


def test_a_session_that_notifies_after_commit_is_skipped_by_the_trigger(staging_db: StagingDatabase) -> None:
    with psycopg.connect(staging_db.url, autocommit=True) as listener, \
            psycopg.connect(staging_db.url, autocommit=True) as conn:
        listener.execute(f"LISTEN {notify.CHANNEL}")
        conn.execute("SELECT set_config(%s, %s, false)", (notify.SETTING, notify.AFTER_COMMIT))
        conn.execute(_INSERT, (uuid.uuid4(), uuid.uuid4(), "after@x"))
        assert _notified_by(listener) == []
        conn.execute("SELECT set_config(%s, '', false)", (notify.SETTING,))
        conn.execute(_INSERT, (uuid.uuid4(), uuid.uuid4(), "trigger@x"))
        assert _notified_by(listener) == [("nms:recipient", conn.info.backend_pid)]


def test_the_writers_rows_are_notified_by_a_session_of_their_own(staging_db: StagingDatabase,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    writers: set[int] = set()

    def insert_calls(conn: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> bool:
        writers.add(conn.info.backend_pid)  # the sessions that stage the calls
        return group_commit_store_insert(conn, *args, **kwargs)

    group_commit_store_insert = group_commit.insert_calls
    monkeypatch.setattr(group_commit, "insert_calls", insert_calls)

    async def run() -> None:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry, writers=2)
        await writer.start()
        try:
            calls = [build_call(staging_db.registry, Method.INGEST,
                                records_from_json({"email": f"{i}@x"}, "nms:recipient")) for i in range(3)]
            await asyncio.gather(*(writer.submit(call) for call in calls))
        finally:
            await writer.close()

    with psycopg.connect(staging_db.url, autocommit=True) as listener:
        listener.execute(f"LISTEN {notify.CHANNEL}")
        asyncio.run(run())
        notes = _notified_by(listener)
    assert writers
    assert [payload for payload, _ in notes] == ["nms:recipient"]
    assert notes[0][1] not in writers
