"""Logon throttling per login and per client address, kept in staging so every server on one database shares it.

After `free` failures in a row, each further failure locks the key for `base * 2**(failures - free)` seconds (at
most `max_delay`); a logon on a locked key is refused with HTTP 429 and `Retry-After` before the password is even
checked. A success clears the login's count; failures older than an hour are forgotten. `unlock` clears a login
(`ferry operator unlock LOGIN`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.auth.models import AuthError
from ferry.config import Settings

FORGET_SECONDS = 3600.0
# Stale rows are swept on about one failure in this many (no scheduler needed).
_SWEEP_ONE_IN = 50


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, and how the lock grows after them."""

    login_free: int = 5
    address_free: int = 20
    base_delay: float = 1.0
    max_delay: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        """The policy of `logon_*` settings."""
        return cls(settings.logon_free_attempts, settings.logon_address_free_attempts, settings.logon_base_delay,
                   settings.logon_max_delay)

    def lock_seconds(self, failures: int, free: int) -> float:
        """How long a key with `failures` failures in a row stays locked (0 while they are free)."""
        if free <= 0 or failures < free:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** min(failures - free, 40)))


def locked_error(retry_after: float) -> AuthError:
    """The 429 of a locked login or address."""
    return AuthError(errors.LOGON_THROTTLED, "too many failed logons for this login or from this address; retry "
                     f"in {max(1, round(retry_after))} s, or ask an admin to run `ferry operator unlock LOGIN`",
                     http_status=429, retry_after=retry_after)


class LogonThrottle:
    """The throttle state in `ferry.logon_throttle` (see migration 0150_security.sql)."""

    def __init__(self, pool: ConnectionPool, policy: ThrottlePolicy) -> None:
        self._pool = pool
        self.policy = policy

    def _keys(self, login: str, address: str | None) -> list[tuple[str, str, int]]:
        keys = [("login", login[:256], self.policy.login_free)]
        if address:
            keys.append(("address", address, self.policy.address_free))
        return keys

    def check(self, login: str, address: str | None) -> None:
        """Raise the 429 `locked_error` when the login or the address is locked now."""
        if self.policy.login_free <= 0 and self.policy.address_free <= 0:
            return
        keys = self._keys(login, address)
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM max(locked_until) - now()) FROM ferry.logon_throttle "
                "WHERE (kind, key) IN (SELECT * FROM unnest(%s::text[], %s::text[])) AND locked_until > now()",
                ([k[0] for k in keys], [k[1] for k in keys])).fetchone()
        if row is not None and row[0] is not None and float(row[0]) > 0:
            raise locked_error(float(row[0]))

    def failed(self, login: str, address: str | None) -> float:
        """Count one failure on the login and the address; the longer lock it leaves (seconds, 0 when none)."""
        locked = 0.0
        with self._pool.connection() as conn, conn.transaction():
            for kind, key, free in self._keys(login, address):
                if free <= 0:
                    continue
                row = conn.execute(
                    "INSERT INTO ferry.logon_throttle AS t (kind, key, failures, last_failure) "
                    "VALUES (%s, %s, 1, now()) ON CONFLICT (kind, key) DO UPDATE SET "
                    "failures = CASE WHEN t.last_failure < now() - make_interval(secs => %s) THEN 1 "
                    "ELSE t.failures + 1 END, last_failure = now() RETURNING failures",
                    (kind, key, FORGET_SECONDS)).fetchone()
                assert row is not None
                seconds = self.policy.lock_seconds(int(row[0]), free)
                if seconds > 0:
                    conn.execute("UPDATE ferry.logon_throttle SET locked_until = now() + make_interval(secs => %s) "
                                 "WHERE kind = %s AND key = %s", (seconds, kind, key))
                locked = max(locked, seconds)
            if random.randrange(_SWEEP_ONE_IN) == 0:  # housekeeping only: no security role
                conn.execute("DELETE FROM ferry.logon_throttle WHERE last_failure < now() - make_interval(secs => %s) "
                             "AND (locked_until IS NULL OR locked_until < now())", (FORGET_SECONDS,))
        return locked

    def succeeded(self, login: str) -> None:
        """A good logon clears the login's failures (the address keeps its own)."""
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM ferry.logon_throttle WHERE kind = 'login' AND key = %s", (login[:256],))

    def unlock(self, login: str | None = None, address: str | None = None) -> int:
        """Clear a login's (and/or an address's) failures and lock; how many keys were cleared."""
        cleared = 0
        with self._pool.connection() as conn:
            for kind, key in (("login", login), ("address", address)):
                if key:
                    cur = conn.execute("DELETE FROM ferry.logon_throttle WHERE kind = %s AND key = %s", (kind, key))
                    cleared += cur.rowcount
        return cleared
