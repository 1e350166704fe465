"""Opening the staging database: a configured URL or the embedded server, a pool, migrations, schemas."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from types import TracebackType

import psycopg
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.private_files import FOLDER_MODE, tighten
from ferry.schema.registry import SchemaRegistry
from ferry.staging.catalog import SchemaCatalog
from ferry.staging.embedded import EmbeddedPostgres
from ferry.staging.migrations import migrate
from ferry.staging.store import StagingStore
from ferry.staging.upgrade import upgrade_layout

log = logging.getLogger(__name__)


class StagingDatabase:
    """The staging PostgreSQL of one ferry process; a context manager that cleans up after itself."""

    def __init__(self, url: str, *, embedded: EmbeddedPostgres | None = None, pool_size: int = 10,
                 pool_timeout: float = 3.0, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.embedded = embedded
        self._closers: list[Callable[[], None]] = []
        self.connect_timeout = connect_timeout
        # During an outage a call waits `pool_timeout` for a connection, then fails (503); a lost connection is
        # re-made with attempts `connect_timeout` apart at most, so the pool follows the database back within that.
        kwargs: dict[str, object] = {"autocommit": True}
        if connect_timeout > 0:
            kwargs["connect_timeout"] = max(1, math.ceil(connect_timeout))
        self.pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size), open=False, kwargs=kwargs,
                                   name="ferry-staging", timeout=pool_timeout,
                                   reconnect_timeout=max(1.0, connect_timeout))
        try:
            self.pool.open(wait=True, timeout=30)
        except Exception as exc:
            self._stop_embedded()
            raise FerryError(errors.STAGING_UNAVAILABLE, f"cannot connect to the staging database: {exc}") from None
        with self.pool.connection() as conn:
            applied = migrate(conn)
            upgrade_layout(conn)  # tables of the old layout become the log
        if applied:
            log.info("staging migrations applied: %s", ", ".join(applied))
        self.catalog = SchemaCatalog(self.pool)
        self.catalog.install_builtins()
        self.catalog.install_notify()
        self.store = StagingStore(self.pool, self.catalog.load())

    @classmethod
    def open(cls, settings: Settings) -> StagingDatabase:
        """The configured database, or the embedded one under the data folder."""
        # The data folder of an older ferry may still be 0755 (ferry.private_files).
        tighten(settings.data_dir, FOLDER_MODE)
        bounds = {"pool_size": settings.pool_size, "pool_timeout": settings.pool_timeout,
                  "connect_timeout": settings.pool_connect_timeout}
        if settings.database_url:
            return cls(settings.database_url, **bounds)  # type: ignore[arg-type]
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start("ferry")
        return cls(url, embedded=embedded, **bounds)  # type: ignore[arg-type]

    @property
    def registry(self) -> SchemaRegistry:
        """The schemas known when last loaded."""
        return self.store.registry

    def reload_schemas(self) -> SchemaRegistry:
        """Re-read applied schemas (after `schema apply` by this or another process)."""
        self.store.registry = self.catalog.load()
        return self.store.registry

    def probe(self, timeout: float) -> StagingProbe:
        """A short-timeout check of this database on its own connection (health never waits on the pool)."""
        return StagingProbe(self.url, timeout)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when this database closes (connections other modules keep open on it, e.g. the log's reader)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Close the pool and stop the embedded server if this process started it."""
        closers, self._closers = self._closers, []
        for closer in closers:
            try:
                closer()
            except Exception:  # one failed close must not keep the others (or the server) open
                log.exception("closing a resource of the staging database failed")
        self.pool.close()
        self._stop_embedded()

    def _stop_embedded(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    def __enter__(self) -> StagingDatabase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class StagingProbe:
    """`check()` runs `SELECT 1` on a dedicated connection within `timeout` seconds, reconnecting after a failure."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._conn: psycopg.Connection | None = None
        self._closed = False

    def check(self) -> None:
        """Return when staging answered; raise with the reason otherwise."""
        from ferry.netguard import watchdog

        if self._closed:
            raise RuntimeError("the staging probe is closed")
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True,
                                             connect_timeout=max(1, math.ceil(self.timeout)))
                if self._closed:  # closed while this check was connecting: that connection is nobody's
                    raise RuntimeError("the staging probe is closed")
            with watchdog(self._conn, self.timeout) as fired:
                try:
                    self._conn.execute("SELECT 1")
                except psycopg.OperationalError:
                    if fired.is_set():
                        raise TimeoutError(f"no answer within {self.timeout:g} s") from None
                    raise
        except BaseException:
            self._drop()
            raise

    def close(self) -> None:
        """Drop the connection; a closed probe never connects again."""
        self._closed = True
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
