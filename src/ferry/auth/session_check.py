"""A cached session whose confirmation in staging is still owed before its call is answered.

A session answered from the cache must be confirmed in staging after the call arrived (a logoff on another server
is refused at once). On the ingest paths that confirmation rides in the statement that stages the call
(`GroupCommitter.submit(session=...)`): no round trip of its own. Any other answer (a refusal before the write)
confirms first, so a revoked session is refused exactly as before, whatever else is wrong with the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ferry.auth.models import AuthError
from ferry.errors import FerryError


class SessionCheck:
    """The confirmation owed for one call; `take` hands it to the write, `settle` makes it before a refusal."""

    __slots__ = ("_confirm", "_gone", "session_hash")

    def __init__(self, session_hash: bytes, confirm: Callable[[bytes], Awaitable[None]],
                 gone: Callable[[bytes], AuthError]) -> None:
        self.session_hash: bytes | None = session_hash
        self._confirm = confirm
        self._gone = gone

    def take(self) -> bytes | None:
        """The session hash for the write that will confirm it (the check is then no longer owed here)."""
        found, self.session_hash = self.session_hash, None
        return found

    def refused(self, session_hash: bytes) -> AuthError:
        """The refusal when the write found the session revoked or expired."""
        return self._gone(session_hash)

    async def confirm(self) -> None:
        """Confirm now (AuthError when revoked), unless already done or handed to a write."""
        found = self.take()
        if found is not None:
            await self._confirm(found)

    async def settle(self, exc: BaseException) -> BaseException:
        """The error to answer instead of `exc`: the session's refusal when it was revoked (or the staging error
        when it cannot be checked), else `exc` itself."""
        if self.session_hash is None or (isinstance(exc, AuthError) and exc.http_status == 401):
            return exc
        try:
            await self.confirm()
        except FerryError as refused:
            return refused
        return exc


async def refusal_for(check: SessionCheck | None, exc: BaseException) -> BaseException:
    """The error to answer for `exc` raised while a call's session confirmation may still be owed: a revoked
    session is refused as such first."""
    return exc if check is None else await check.settle(exc)
