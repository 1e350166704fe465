"""Operators, logon, session checks, rights and rate limits, backed by the staging PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.auth import rights
from ferry.auth.models import CAMPAIGN_BAD_LOGON, CAMPAIGN_SESSION_INVALID, AuthError, LogonResult, Operator
from ferry.auth.passwords import hash_password, needs_rehash, verify_password
from ferry.auth.ratelimit import TokenBuckets
from ferry.auth.revocations import RevocationCheck
from ferry.auth.session_check import SessionCheck
from ferry.auth.throttle import LogonThrottle, ThrottlePolicy
from ferry.auth.tokens import digest, new_security_token, new_session_token
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.logs import set_log_context

log = logging.getLogger(__name__)

ADMIN_LOGIN = "admin"
_LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_SCHEMA_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*$")
_BAD_LOGON_MESSAGE = "Invalid login or password."
_SESSION_MESSAGE = "Session has expired or is invalid. Please reconnect."
_NO_SECURITY_MESSAGE = ("The security token is missing: send the securityToken that Logon returned in the "
                        "X-Security-Token header.")


@dataclass(frozen=True)
class _Cached:
    security_hash: bytes
    operator: Operator
    fresh_until: float  # monotonic
    expires_at: dt.datetime


def _operator(row: Any) -> Operator:
    return Operator(id=int(row[0]), login=row[1], admin=bool(row[2]), schemas=frozenset(row[3] or ()),
                    disabled=bool(row[4]), read_schemas=frozenset(row[5] or ()))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def session_invalid() -> AuthError:
    """The refusal for a missing, unknown, expired, revoked or mismatched token pair."""
    return AuthError(errors.SESSION_INVALID, _SESSION_MESSAGE, campaign_code=CAMPAIGN_SESSION_INVALID,
                     http_status=401)


def security_token_missing() -> AuthError:
    """The refusal for a session token sent without its security token: said as such, not as an expired session."""
    return AuthError(errors.SESSION_INVALID, _NO_SECURITY_MESSAGE, campaign_code=CAMPAIGN_SESSION_INVALID,
                     http_status=401)


class Authenticator:
    """The auth door of one ferry process; thread-safe, shared by the SOAP router and the REST API."""

    cache_seconds = 1.5
    cache_size = 10_000

    def __init__(self, pool: ConnectionPool, settings: Settings) -> None:
        self._pool = pool
        self.settings = settings
        self._cache: OrderedDict[bytes, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._buckets = TokenBuckets(settings.rate_limit)
        self.throttle = LogonThrottle(pool, ThrottlePolicy.from_settings(settings))
        # Called with (reason, via) for every refused logon: the metrics install it.
        self.logon_observer: Callable[[str, str], None] | None = None
        # A logoff on another server must be refused here at once: a cached session is confirmed on each use.
        self.revocations = RevocationCheck(pool)

    # -- sessions ---------------------------------------------------------------------------------------------

    def logon(self, login: str, password: str, *, address: str | None = None, via: str = "api") -> LogonResult:
        """Open a session; a wrong login, wrong password or disabled operator all get the same XSV-350022.

        Throttled per login and per client `address` (`ferry.auth.throttle`): a locked key is refused with 429
        before the password is checked. `via` (soap, rest, console) only labels metrics and the log line."""
        login = login or ""
        if "\x00" in login:
            # No login holds one, and PostgreSQL text cannot: a coded refusal, not a staging fault.
            raise AuthError(errors.BAD_REQUEST, "the login holds a NUL character; no login can", http_status=400)
        try:
            self.throttle.check(login, address)
        except AuthError:
            self._refused("throttled", login, address, via)
            raise
        try:
            return self._logon(login, password, address, via)
        except AuthError as exc:
            if exc.code is errors.BAD_CREDENTIALS:
                locked = self.throttle.failed(login, address)
                self._refused("bad_credentials", login, address, via, locked)
            raise

    def _refused(self, reason: str, login: str, address: str | None, via: str, locked: float = 0.0) -> None:
        # Never the password: the login (repr, so no log injection), where from, and why.
        log.warning("logon refused (%s) via %s: login=%r address=%s%s", reason, via, login[:64], address or "?",
                    f" (locked for {locked:g} s)" if locked else "")
        if self.logon_observer is not None:
            self.logon_observer(reason, via)

    def _logon(self, login: str, password: str, address: str | None, via: str) -> LogonResult:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT id, login, admin, schemas, disabled, read_schemas, password_hash "
                               "FROM ferry.operators WHERE login = %s", (login,)).fetchone()
        stored = row[6] if row is not None else None
        # Always verify (against a dummy hash for an unknown login) so timing does not reveal logins.
        ok = verify_password(stored, password or "")
        if row is None or not ok or row[4]:
            raise AuthError(errors.BAD_CREDENTIALS, _BAD_LOGON_MESSAGE, campaign_code=CAMPAIGN_BAD_LOGON,
                            http_status=401)
        operator = _operator(row)
        session_token, security_token = new_session_token(), new_security_token()
        expires_at = _now() + dt.timedelta(seconds=self.settings.session_ttl)
        with self._pool.connection() as conn, conn.transaction():
            if stored is not None and needs_rehash(stored):
                conn.execute("UPDATE ferry.operators SET password_hash = %s WHERE id = %s",
                             (hash_password(password), operator.id))
            conn.execute("INSERT INTO ferry.sessions (session_hash, security_hash, operator_id, expires_at) "
                         "VALUES (%s, %s, %s, %s)",
                         (digest(session_token), digest(security_token), operator.id, expires_at))
            # Housekeeping: sessions dead for a day are of no use, even for audit.
            conn.execute("DELETE FROM ferry.sessions WHERE expires_at < now() - interval '1 day'")
        self.throttle.succeeded(login)
        return LogonResult(session_token, security_token, operator, expires_at)

    def check(self, session_token: str | None, security_token: str | None, *, session_only: bool = False) -> Operator:
        """The operator owning this token pair; AuthError XSV-350008 (HTTP 401) otherwise.

        `session_only` (a call from a `sessionTokenOnly` zone): a missing security token is not asked for; a
        security token that is sent must still be this session's."""
        if session_token and not security_token and not session_only:
            raise security_token_missing()
        if not session_token or not (security_token or session_only):
            raise session_invalid()
        session_hash = digest(session_token)
        security_hash = digest(security_token) if security_token else None
        cached = self._cached(session_hash)
        if cached is not None:
            if security_hash is not None and not hmac.compare_digest(cached.security_hash, security_hash):
                raise session_invalid()
            if not self.revocations.confirm_now(session_hash):
                self._forget(session_hash)
                raise session_invalid()
            return cached.operator
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT s.security_hash, s.expires_at, s.revoked_at, o.id, o.login, o.admin, o.schemas, o.disabled, "
                "o.read_schemas "
                "FROM ferry.sessions s JOIN ferry.operators o ON o.id = s.operator_id WHERE s.session_hash = %s",
                (session_hash,)).fetchone()
        if row is None:
            raise session_invalid()
        stored_security, expires_at, revoked_at = bytes(row[0]), row[1], row[2]
        operator = _operator(row[3:])
        pair_ok = security_hash is None or hmac.compare_digest(stored_security, security_hash)
        if not pair_ok or revoked_at is not None or expires_at <= _now() or operator.disabled:
            raise session_invalid()
        self._remember(session_hash, _Cached(stored_security, operator, time.monotonic() + self.cache_seconds,
                                             expires_at))
        return operator

    async def check_async(self, session_token: str | None, security_token: str | None, *,
                          session_only: bool = False) -> Operator:
        """`check` for the event loop: answered from the cache when fresh (confirmed in staging), else in a worker
        thread. The operator goes into the log context of the calling task (`ferry.logs`): every line the call logs
        from here on names it, whichever way in (SOAP, REST, the console) checked the session."""
        operator, owed = await self._checked(session_token, security_token, session_only)
        if owed is not None:
            await owed.confirm()
        set_log_context(operator=operator.login)
        return operator

    async def check_deferred(self, session_token: str | None, security_token: str | None, *,
                             session_only: bool = False) -> tuple[Operator, SessionCheck | None]:
        """`check_async`, but a cached session is not confirmed in staging here: the caller gets the confirmation
        it owes (`SessionCheck`) and makes it in the write that stages the call, or before any other answer.
        (operator, None) when the session was just read from staging."""
        operator, owed = await self._checked(session_token, security_token, session_only)
        set_log_context(operator=operator.login)
        return operator, owed

    async def _checked(self, session_token: str | None, security_token: str | None,
                       session_only: bool) -> tuple[Operator, SessionCheck | None]:
        if session_token and (security_token or session_only):
            session_hash = digest(session_token)
            cached = self._cached(session_hash)
            if cached is not None:
                if security_token and not hmac.compare_digest(cached.security_hash, digest(security_token)):
                    raise session_invalid()
                return cached.operator, SessionCheck(session_hash, self.confirm, self.session_gone)
        operator = await asyncio.to_thread(lambda: self.check(session_token, security_token,
                                                              session_only=session_only))
        return operator, None

    async def confirm(self, session_hash: bytes) -> None:
        """Confirm in staging a session `check_deferred` answered from its cache; AuthError XSV-350008 if revoked."""
        if not await self.revocations.confirm(session_hash):
            raise self.session_gone(session_hash)

    def session_gone(self, session_hash: bytes) -> AuthError:
        """The refusal for a cached session found revoked or expired in staging (it leaves the cache)."""
        self._forget(session_hash)
        return session_invalid()

    def _forget(self, session_hash: bytes) -> None:
        with self._lock:
            self._cache.pop(session_hash, None)

    def logoff(self, session_token: str | None) -> None:
        """Revoke the session, at once on every server (each confirms a cached session in staging on use)."""
        if not session_token:
            return
        session_hash = digest(session_token)
        with self._lock:
            self._cache.pop(session_hash, None)
        with self._pool.connection() as conn:
            conn.execute("UPDATE ferry.sessions SET revoked_at = now() WHERE session_hash = %s AND revoked_at IS NULL",
                         (session_hash,))

    def _cached(self, session_hash: bytes) -> _Cached | None:
        with self._lock:
            entry = self._cache.get(session_hash)
            if entry is None:
                return None
            if entry.fresh_until < time.monotonic() or entry.expires_at <= _now():
                del self._cache[session_hash]
                return None
            return entry

    def _remember(self, session_hash: bytes, entry: _Cached) -> None:
        with self._lock:
            self._cache[session_hash] = entry
            self._cache.move_to_end(session_hash)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _forget_operator(self, operator_id: int) -> None:
        with self._lock:
            for key in [key for key, entry in self._cache.items() if entry.operator.id == operator_id]:
                del self._cache[key]

    # -- rights and limits ------------------------------------------------------------------------------------

    def can_ingest(self, operator: Operator, schema_id: str) -> bool:
        """The write right on this schema (named `ns:name` or `ns:nameStg`): `ferry.auth.rights.can_write`."""
        return rights.can_write(operator, schema_id)

    def can_read(self, operator: Operator, schema_id: str) -> bool:
        """The read right on this schema (a write right includes it)."""
        return rights.can_read(operator, schema_id)

    def require_ingest(self, operator: Operator, schema_id: str) -> None:
        """Raise AuthError (HTTP 403) unless `can_ingest`."""
        rights.require(operator, rights.Access.WRITE, schema_id, what=f"ingest into {schema_id}")

    def rate_limit(self, operator: Operator) -> None:
        """Spend one call of the operator's budget (`settings.rate_limit` calls/s); AuthError HTTP 429 when spent."""
        wait = self._buckets.take(operator.id)
        if wait > 0:
            raise AuthError(errors.RATE_LIMITED, f"more than {self.settings.rate_limit:g} calls per second for "
                            f"operator {operator.login!r}; retry in {wait:.2f} s", http_status=429, retry_after=wait)

    # -- operators --------------------------------------------------------------------------------------------

    def ensure_admin(self, password: str) -> bool:
        """Create operator `admin` (admin right) only when no operator exists yet; True if it was created."""
        if not password:
            return False
        password_hash = hash_password(password)
        with self._pool.connection() as conn, conn.transaction():
            # Serialises concurrent first starts: exactly one creates admin.
            conn.execute("LOCK TABLE ferry.operators IN SHARE ROW EXCLUSIVE MODE")
            if conn.execute("SELECT 1 FROM ferry.operators LIMIT 1").fetchone() is not None:
                return False
            conn.execute("INSERT INTO ferry.operators (login, password_hash, admin) VALUES (%s, %s, true)",
                         (ADMIN_LOGIN, password_hash))
        return True

    def add_operator(self, login: str, password: str, admin: bool = False, schemas: Iterable[str] = (),
                     read_schemas: Iterable[str] = ()) -> Operator:
        """Create an operator; FRY-600005 if the login is taken, FRY-600007 for a bad login, password or schema."""
        if not _LOGIN.match(login or ""):
            raise FerryError(errors.BAD_OPERATOR, f"login {login!r} must be 1-64 letters, digits or _ . @ - "
                             "starting with a letter or digit")
        if not password:
            raise FerryError(errors.BAD_OPERATOR, "the password must not be empty")
        writes = sorted(set(schemas))
        reads = sorted(set(read_schemas) - set(writes))
        for schema_id in [*writes, *reads]:
            if not _SCHEMA_ID.match(schema_id):
                raise FerryError(errors.BAD_OPERATOR, f"schema {schema_id!r} must look like namespace:name")
        password_hash = hash_password(password)
        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "INSERT INTO ferry.operators (login, password_hash, admin, schemas, read_schemas) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING id, login, admin, schemas, disabled, read_schemas",
                    (login, password_hash, admin, writes, reads)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise FerryError(errors.OPERATOR_EXISTS, f"operator {login!r} already exists") from None
        assert row is not None
        return _operator(row)

    def get_operator(self, login: str) -> Operator | None:
        """The operator with this login, or None."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT id, login, admin, schemas, disabled, read_schemas FROM ferry.operators "
                               "WHERE login = %s", (login,)).fetchone()
        return _operator(row) if row is not None else None

    def list_operators(self) -> list[Operator]:
        """Every operator, by login."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT id, login, admin, schemas, disabled, read_schemas FROM ferry.operators "
                                "ORDER BY login").fetchall()
        return [_operator(row) for row in rows]

    def disable(self, login: str) -> Operator:
        """Disable an operator and revoke its sessions; FRY-600006 if unknown."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("UPDATE ferry.operators SET disabled = true, updated_at = now() WHERE login = %s "
                               "RETURNING id, login, admin, schemas, disabled, read_schemas", (login,)).fetchone()
            if row is None:
                raise FerryError(errors.UNKNOWN_OPERATOR, f"no operator {login!r}")
            conn.execute("UPDATE ferry.sessions SET revoked_at = now() WHERE operator_id = %s AND revoked_at IS NULL",
                         (row[0],))
        operator = _operator(row)
        self._forget_operator(operator.id)
        return operator

    def enable(self, login: str) -> Operator:
        """Enable a disabled operator again; FRY-600006 if unknown."""
        with self._pool.connection() as conn:
            row = conn.execute("UPDATE ferry.operators SET disabled = false, updated_at = now() WHERE login = %s "
                               "RETURNING id, login, admin, schemas, disabled, read_schemas", (login,)).fetchone()
        if row is None:
            raise FerryError(errors.UNKNOWN_OPERATOR, f"no operator {login!r}")
        return _operator(row)

    def set_password(self, login: str, password: str) -> None:
        """Replace an operator's password and revoke its open sessions; FRY-600006 if unknown."""
        if not password:
            raise FerryError(errors.BAD_OPERATOR, "the password must not be empty")
        password_hash = hash_password(password)
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("UPDATE ferry.operators SET password_hash = %s, updated_at = now() WHERE login = %s "
                               "RETURNING id", (password_hash, login)).fetchone()
            if row is None:
                raise FerryError(errors.UNKNOWN_OPERATOR, f"no operator {login!r}")
            conn.execute("UPDATE ferry.sessions SET revoked_at = now() WHERE operator_id = %s AND revoked_at IS NULL",
                         (row[0],))
        self._forget_operator(int(row[0]))

    def unlock(self, login: str) -> int:
        """Clear a login's failed logons and lock (`ferry operator unlock`); the number of keys cleared."""
        return self.throttle.unlock(login=login)
