"""A call's session is confirmed by the very write that stages it: revoked or expired, nothing of it is staged,
and the other calls of its group still are."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from ferry.auth import Authenticator
from ferry.auth.tokens import digest
from ferry.config import Settings
from ferry.ingest import Call, Method, build_call, records_from_json
from ferry.staging import StagingDatabase
from ferry.staging.group_commit import GroupCommitter, SessionRefused
from ferry.staging.store import SessionNotValid, insert_calls, session_refused, write_calls


def sessions(db: StagingDatabase, settings: Settings, count: int) -> list[bytes]:
    auth = Authenticator(db.pool, settings)
    auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    return [digest(auth.logon("ann", "pw").session_token) for _ in range(count)]


def revoke(db: StagingDatabase, session_hash: bytes, how: str = "revoked_at = now()") -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(f"UPDATE ferry.sessions SET {how} WHERE session_hash = %s", (session_hash,))


def one(db: StagingDatabase, email: str) -> Call:
    return build_call(db.registry, Method.INGEST, records_from_json({"email": email}, "nms:recipient"))


def staged(db: StagingDatabase) -> tuple[list[str], int]:
    with psycopg.connect(db.url) as conn:
        emails = [row[0] for row in conn.execute("SELECT email FROM ferry_stg.nms_recipient ORDER BY _seq")]
        found = conn.execute("SELECT count(*) FROM ferry.requests").fetchone()
    return emails, int(found[0]) if found else 0


@pytest.mark.parametrize("how", ["revoked_at = now()", "expires_at = now() - interval '1 second'"])
@pytest.mark.parametrize("path", ["insert", "copy"])
def test_a_revoked_or_expired_session_fails_the_write_and_stages_nothing(staging_db: StagingDatabase,
                                                                         settings: Settings, path: str,
                                                                         how: str) -> None:
    good, gone = sessions(staging_db, settings, 2)
    revoke(staging_db, gone, how)
    calls = [one(staging_db, "a@x"), one(staging_db, "b@x"), one(staging_db, "c@x")]
    with staging_db.pool.connection() as conn:
        with pytest.raises(Exception) as failed:  # either path's own error, told by session_refused
            if path == "insert":
                insert_calls(conn, staging_db.registry, calls, (), [good, gone, None])
            else:
                with conn.transaction():
                    write_calls(conn, staging_db.registry, calls, (), [good, gone, None])
        assert session_refused(failed.value)
        assert path == "insert" or isinstance(failed.value, SessionNotValid)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert staged(staging_db) == ([], 0)
    with staging_db.pool.connection() as conn:
        if path == "insert":
            assert insert_calls(conn, staging_db.registry, calls, (), [good, good, None])
        else:
            with conn.transaction():
                write_calls(conn, staging_db.registry, calls, (), [good, good, None])
    assert staged(staging_db) == (["a@x", "b@x", "c@x"], 3)


def test_other_failures_are_not_taken_for_a_session_refusal(staging_db: StagingDatabase, settings: Settings) -> None:
    (good,) = sessions(staging_db, settings, 1)
    call = one(staging_db, "a@x")
    with staging_db.pool.connection() as conn, pytest.raises(psycopg.errors.UniqueViolation) as failed:
        insert_calls(conn, staging_db.registry, [call, call], (), [good, good])
    assert not session_refused(failed.value)


def test_the_committer_refuses_only_the_revoked_call_of_a_group(staging_db: StagingDatabase,
                                                                settings: Settings) -> None:
    hashes = sessions(staging_db, settings, 3)
    revoke(staging_db, hashes[1])

    async def run() -> list[BaseException | None]:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry, writers=1)
        await writer.start()
        try:
            submitted = [writer.submit(one(staging_db, f"{index}@x"), session=session)
                         for index, session in enumerate([hashes[0], hashes[1], hashes[2], None, hashes[1]])]
            return list(await asyncio.gather(*submitted, return_exceptions=True))
        finally:
            await writer.close()

    outcomes = asyncio.run(run())
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], SessionRefused) and isinstance(outcomes[4], SessionRefused)
    emails, requests = staged(staging_db)
    assert sorted(emails) == ["0@x", "2@x", "3@x"] and requests == 3


def test_a_revoked_session_is_told_whatever_error_the_statement_met_first(staging_db: StagingDatabase,
                                                                          settings: Settings) -> None:
    (session,) = sessions(staging_db, settings, 1)
    call = one(staging_db, "a@x")

    async def run() -> list[BaseException | None]:
        writer = GroupCommitter(staging_db.pool, lambda: staging_db.registry, writers=1)
        await writer.start()
        try:
            first = await writer.submit(call, session=session)
            revoke(staging_db, session)
            # The same request again: its id is taken (a unique violation) and its session is revoked.
            again = await asyncio.gather(writer.submit(call, session=session), return_exceptions=True)
            return [first, *again]
        finally:
            await writer.close()

    first, again = asyncio.run(run())
    assert first is None and isinstance(again, SessionRefused)
    assert staged(staging_db) == (["a@x"], 1)
