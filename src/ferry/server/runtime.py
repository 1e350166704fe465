"""What one server process holds: settings, the staging database, the group committer, the auth door."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from ferry.auth import Authenticator
from ferry.config import Settings
from ferry.schema.registry import SchemaRegistry
from ferry.staging import StagingDatabase
from ferry.staging.group_commit import GroupCommitter
from ferry.warehouse import Warehouse, open_warehouse

log = logging.getLogger(__name__)


class Runtime:
    """Built once per process from Settings; `start`/`stop` run inside the app's lifespan.

    `scheduler` is None unless attached; when set, its `async start()` / `async stop()` are awaited by the
    lifespan (after the writer starts, before the writer stops).
    """

    schema_refresh_seconds = 1.0

    def __init__(self, settings: Settings, db: StagingDatabase | None = None) -> None:
        self.settings = settings
        self.db = db if db is not None else StagingDatabase.open(settings)
        self._owns_db = db is None
        self.auth = Authenticator(self.db.pool, settings)
        self.writer = GroupCommitter(self.db.pool, lambda: self.db.registry)
        self.scheduler: Any | None = None
        self.started_at = time.time()
        self.running = False
        self._refreshed_at = 0.0
        self._refresh_lock = asyncio.Lock()
        self._warehouse: Warehouse | None = None
        self._sync: Any | None = None
        self._open_lock = threading.Lock()

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse (`settings.effective_warehouse_url`), opened on first use."""
        with self._open_lock:
            if self._warehouse is None:
                self._warehouse = open_warehouse(self.settings.effective_warehouse_url)
            return self._warehouse

    @property
    def sync(self) -> Any:
        """The sync service (`ferry.server.sync_routes.SyncService`): on-demand runs, and the periodic loop once
        `enable_scheduler()` attached it."""
        if self._sync is None:
            from ferry.server.sync_routes import SyncService

            warehouse = self.warehouse
            with self._open_lock:
                if self._sync is None:
                    self._sync = SyncService(self.db, warehouse, self.settings, periodic=False)
        return self._sync

    def enable_scheduler(self) -> None:
        """Run the sync of every staged schema every `settings.sync_interval` seconds while the app runs."""
        self.sync.periodic = True
        self.scheduler = self.sync

    @property
    def registry(self) -> SchemaRegistry:
        """The staged schemas known to this process."""
        return self.db.registry

    async def start(self) -> None:
        """Start the group committer, then the scheduler if one is attached."""
        await self.writer.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        self.running = True

    async def stop(self) -> None:
        """Stop the scheduler, then commit every call already submitted and stop the writer."""
        self.running = False
        if self.scheduler is not None:
            try:
                await self.scheduler.stop()
            except Exception:
                log.exception("scheduler did not stop cleanly")
        elif self._sync is not None:
            await self._sync.stop()
        await self.writer.close()

    async def refresh_schemas(self) -> bool:
        """Re-read applied schemas (another process may have run `ferry schema apply`); at most once a second."""
        async with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < self.schema_refresh_seconds:
                return False
            await asyncio.to_thread(self.db.reload_schemas)
            self._refreshed_at = time.monotonic()
            return True

    def close(self) -> None:
        """Close the staging pool (and stop the embedded PostgreSQL) when this runtime opened it."""
        if self._warehouse is not None:
            try:
                self._warehouse.close()
            except Exception:
                log.exception("warehouse did not close cleanly")
            self._warehouse = None
        if self._owns_db:
            self.db.close()
