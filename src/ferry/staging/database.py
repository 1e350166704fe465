"""Opening the staging database: a configured URL or the embedded server, a pool, migrations, schemas."""

from __future__ import annotations

import logging
from types import TracebackType

from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.schema.registry import SchemaRegistry
from ferry.staging.catalog import SchemaCatalog
from ferry.staging.embedded import EmbeddedPostgres
from ferry.staging.migrations import migrate
from ferry.staging.store import StagingStore
from ferry.staging.upgrade import upgrade_layout

log = logging.getLogger(__name__)


class StagingDatabase:
    """The staging PostgreSQL of one ferry process; a context manager that cleans up after itself."""

    def __init__(self, url: str, *, embedded: EmbeddedPostgres | None = None, pool_size: int = 10) -> None:
        self.url = url
        self.embedded = embedded
        self.pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size), open=False,
                                   kwargs={"autocommit": True}, name="ferry-staging")
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
        if settings.database_url:
            return cls(settings.database_url, pool_size=settings.pool_size)
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start("ferry")
        return cls(url, embedded=embedded, pool_size=settings.pool_size)

    @property
    def registry(self) -> SchemaRegistry:
        """The schemas known when last loaded."""
        return self.store.registry

    def reload_schemas(self) -> SchemaRegistry:
        """Re-read applied schemas (after `schema apply` by this or another process)."""
        self.store.registry = self.catalog.load()
        return self.store.registry

    def close(self) -> None:
        """Close the pool and stop the embedded server if this process started it."""
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
