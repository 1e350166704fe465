"""A cached session is confirmed in staging on every use, so a logoff on one server is refused on all at once.

Confirmations of concurrent calls share one query (a round starts only after every call in it arrived, so a
logoff committed before a call arrived is always seen), on one thread of its own (not asyncio's default pool).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ferry import errors
from ferry.errors import FerryError


class RevocationCheck:
    """`await confirm(session_hash)` is True while the session is neither revoked nor expired in staging."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-sessions")
        self._waiting: dict[bytes, list[asyncio.Future[bool]]] = {}
        self._running = False

    async def confirm(self, session_hash: bytes) -> bool:
        """True when the session is still valid in staging (checked after this call arrived)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(session_hash, []).append(future)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._rounds())
        return await future

    def confirm_now(self, session_hash: bytes) -> bool:
        """`confirm` for a worker thread."""
        return session_hash in self._valid([session_hash])

    async def _rounds(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    valid = await loop.run_in_executor(self._executor, self._valid, list(batch))
                except Exception as exc:  # staging down: every waiting call gets the error
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for session_hash, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(session_hash in valid)
        finally:
            self._running = False

    def _valid(self, hashes: list[bytes]) -> set[bytes]:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute("SELECT session_hash FROM ferry.sessions WHERE session_hash = ANY(%s) "
                                    "AND revoked_at IS NULL AND expires_at > now()", (hashes,)).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise FerryError(errors.STAGING_UNAVAILABLE, f"cannot check the session: the staging database is "
                             f"unavailable ({exc}); nothing was staged by this call") from None
        return {bytes(row[0]) for row in rows}
