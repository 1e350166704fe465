"""What one server process holds: settings, the staging database, the group committer, the auth door."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ferry import errors
from ferry.auth import Authenticator, Operator
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.schema.registry import SchemaRegistry
from ferry.scripts.api import ScriptApi
from ferry.scripts.relay import RelayedRuns, ScriptRequest
from ferry.scripts.results import LogLine, ScriptResult
from ferry.scripts.runner import run_script
from ferry.server.process.parts import DOWN, REFUSED, UP, PartMonitor, PartOff, PartRefused, PartState
from ferry.server.process.warehouse_reads import WarehouseReads
from ferry.staging import StagingDatabase, warehouse_identity
from ferry.staging.group_commit import GroupCommitter
from ferry.sync import runs
from ferry.warehouse import Timeouts, Warehouse, open_warehouse
from ferry.warehouse.deferred import DeferredWarehouse
from ferry.warehouse.remote import OwnerLink, RemoteWarehouse
from ferry.workflows import script_runs
from ferry.workflows.runner import ScriptRunner, operator_for

ROLES = ("all", "ingest", "sync")

log = logging.getLogger(__name__)


class Runtime:
    """Built once per process from Settings; `start`/`stop` run inside the app's lifespan.

    `scheduler` is None unless attached; when set, its `async start()` / `async stop()` are awaited by the
    lifespan (after the writer starts, before the writer stops).
    """

    schema_refresh_seconds = 1.0

    def __init__(self, settings: Settings, db: StagingDatabase | None = None, owner: OwnerLink | None = None
                 ) -> None:
        if settings.role not in ROLES:
            raise FerryError(errors.CONFIG_ERROR, f"role {settings.role!r} is not one of {', '.join(ROLES)}")
        self.settings = settings
        self.role = settings.role
        self.db = db if db is not None else StagingDatabase.open(settings)
        self._owns_db = db is None
        self.auth = Authenticator(self.db.pool, settings)
        self.writer = GroupCommitter(self.db.pool, lambda: self.db.registry)
        self.scheduler: Any | None = None
        self.relayed_scripts: RelayedRuns | None = None
        # Workflow scripts: on demand in any role; on their schedule with the sync's scheduler (`enable_scheduler`).
        self.loop: asyncio.AbstractEventLoop | None = None
        self.workflows = ScriptRunner(self.db, settings, self._script_api)
        self.started_at = time.time()
        self.running = False
        self._refreshed_at = 0.0
        self._refresh_lock = asyncio.Lock()
        url = settings.effective_warehouse_url
        timeouts = Timeouts.from_settings(settings)
        self._warehouse = DeferredWarehouse(url, lambda: open_warehouse(url, timeouts),
                                            lambda w: self._verify_warehouse(w),
                                            on_recovered=lambda: self.parts.recheck("warehouse"))
        # An ingest-role worker of `--workers N` with a DuckDB warehouse reaches it through the owner process.
        self.remote = RemoteWarehouse(url, owner, read_timeout=timeouts.read, statement_timeout=timeouts.statement,
                                      dialect=self._warehouse.dialect) \
            if owner is not None and self.role == "ingest" else None
        self.reads = WarehouseReads(settings.warehouse_read_threads, settings.warehouse_read_timeout)
        self._sync: Any | None = None
        self._open_lock = threading.Lock()
        self.parts = PartMonitor(settings.health_timeout)
        self._probe = self.db.probe(settings.health_timeout)
        self.parts.add("staging", self._probe.check, interval=0.5)
        self.parts.add("warehouse", self._check_warehouse, interval=2.0)
        self.parts.listeners.append(self._part_changed)

    def _verify_warehouse(self, warehouse: Warehouse) -> None:
        warehouse_identity.verify(self.db.pool, warehouse)

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse (`settings.effective_warehouse_url`), opened on first use and again after a failed open;
        on a worker of `--workers N` the one its owner process serves; FRY-500008 on a server with `--role ingest`,
        which never opens it."""
        if self.remote is not None:
            return self.remote
        if self.role == "ingest":
            raise FerryError(errors.WAREHOUSE_NOT_OPENED, "this server runs with --role ingest and does not open the "
                             "warehouse: send reads to a server with --role all or sync")
        return self._warehouse

    def _check_warehouse(self) -> None:
        """The warehouse part: off (role ingest), refused (another warehouse), or opened and answering; on a worker
        of `--workers N`, the owner's warehouse part (down when the owner does not answer)."""
        if self.remote is not None:
            self._check_owner(self.remote)
            return
        if self.role == "ingest":
            raise PartOff("not opened by a server with --role ingest")
        deferred = self._warehouse
        if deferred.refused is not None:
            raise PartRefused(deferred.refused.text)
        try:
            warehouse = deferred.open()
        except FerryError as exc:
            if deferred.refused is not None:
                raise PartRefused(exc.text) from None
            raise
        if deferred.dialect == "postgres":
            warehouse.select("SELECT 1", [])
        elif deferred.last_error is not None:
            raise deferred.last_error

    @staticmethod
    def _check_owner(remote: RemoteWarehouse) -> None:
        state = remote.health()
        status, reason = state.get("status"), state.get("reason")
        if status == UP:
            return
        if status == REFUSED:
            raise PartRefused(f"{reason} (in {remote.link.who})")
        raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"{remote.link.who} reports the warehouse {status}"
                         f"{f': {reason}' if reason else ''}")

    def _part_changed(self, name: str, old: PartState, new: PartState) -> None:
        if name == "staging" and old.status == DOWN and new.status == UP:
            # Connections idle in the pool through the outage are dead: replace them now, not on a call's time.
            threading.Thread(target=self.db.pool.check, name="ferry-pool-check", daemon=True).start()

    @property
    def sync(self) -> Any:
        """The sync service (`ferry.server.api.sync.SyncService`): on-demand runs, and the periodic loop once
        `enable_scheduler()` attached it; on a worker of `--workers N` with DuckDB, `RelayedSync` (the owner runs)."""
        if self._sync is None and self.remote is not None:
            from ferry.server.api.sync import RelayedSync

            with self._open_lock:
                if self._sync is None:
                    self._sync = RelayedSync(self.db, self.remote)
        if self._sync is None:
            from ferry.server.api.sync import SyncService

            warehouse = self.warehouse
            with self._open_lock:
                if self._sync is None:
                    self._sync = SyncService(self.db, warehouse, self.settings, periodic=False,
                                             scripts=self.workflows)
        return self._sync

    def enable_scheduler(self) -> None:
        """Run the sync of every staged schema every `settings.sync_interval` seconds while the app runs."""
        self.sync.periodic = True
        self.scheduler = self.sync

    @property
    def registry(self) -> SchemaRegistry:
        """The staged schemas known to this process."""
        return self.db.registry

    def _script_api(self, login: str | None) -> Any:
        """The JSAPI of a workflow run in this server, as the workflow's operator (from a runner thread)."""
        from ferry.scripts.api import ScriptApi

        if self.loop is None:
            raise FerryError(errors.SERVER_STOPPING, "the server is not running: workflow scripts run once it started")
        return ScriptApi.for_runtime(self, operator_for(self.db.pool, self.settings, login), self.loop)

    async def start(self) -> None:
        """Close runs their dead processes left `running`, start the part checks, the group committer, then the
        scheduler if one is attached (with the workflow scripts' schedule)."""
        self.loop = asyncio.get_running_loop()
        self.workflows.reopen()
        try:
            closed = await asyncio.to_thread(runs.close_abandoned, self.db.pool, None, "at the start of a server")
            closed += await asyncio.to_thread(script_runs.close_abandoned, self.db.pool)
            if closed:
                log.warning("closed %d run(s) left running by a process that died", closed)
        except Exception as exc:  # staging down at start: the next run of each schema closes them
            log.warning("could not close abandoned runs: %s", exc)
        self.parts.start()
        await self.writer.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.role != "ingest" and self.settings.effective_warehouse_url.lower().startswith("duckdb://"):
            # This process holds the DuckDB file: it runs the scripts `ferry js` leaves for it in staging.
            self.relayed_scripts = RelayedRuns(self.db.pool, self._run_relayed_script)
            self.relayed_scripts.start()
        self.running = True

    async def stop(self) -> None:
        """Stop the scheduler, then commit every call already submitted and stop the writer."""
        self.running = False
        self.parts.stop()
        if self.relayed_scripts is not None:
            await asyncio.to_thread(self.relayed_scripts.stop)
        if self.scheduler is not None:
            try:
                await self.scheduler.stop()
            except Exception:
                log.exception("scheduler did not stop cleanly")
        elif self._sync is not None:
            await self._sync.stop()
        # Runs started on demand end (recorded `stopped`) before the writer their calls go through stops.
        await asyncio.to_thread(self.workflows.stop)
        await self.writer.close()

    async def refresh_schemas(self) -> bool:
        """Re-read applied schemas (another process may have run `ferry schema apply`); at most once a second."""
        async with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < self.schema_refresh_seconds:
                return False
            await asyncio.to_thread(self.db.reload_schemas)
            self._refreshed_at = time.monotonic()
            return True

    def _run_relayed_script(self, request: ScriptRequest, on_log: Callable[[LogLine], None]) -> ScriptResult:
        """A script relayed by `ferry js`: run here as its operator (or as the local owner who asked for it); a
        relayed `ferry workflow run`: a run of that workflow, recorded in its history, where the CLI reads its log
        and outcome (`run_id`)."""
        if request.workflow is not None:
            record = self.workflows.run(request.workflow, trigger="manual",
                                        started_by=f"ferry workflow run ({request.requested_by})",
                                        run_vars=request.vars, on_log=lambda line: on_log(_log_line(line)))
            return ScriptResult("succeeded" if record.state == "succeeded" else "failed", None, record.line,
                                record.column, request_ids=list(record.request_ids), filename=request.workflow,
                                run_id=str(record.id))
        if request.operator_login is None:
            operator = Operator(id=0, login=request.requested_by, admin=True, schemas=frozenset(), disabled=False)
        else:
            found = self.auth.get_operator(request.operator_login)
            if found is None or found.disabled:
                raise FerryError(errors.UNKNOWN_OPERATOR, f"no enabled operator {request.operator_login!r}")
            operator = found
        assert self.loop is not None
        api = ScriptApi.for_runtime(self, operator, self.loop)
        return run_script(request.source, filename=request.filename, api=api, vars=request.vars,
                          time_limit=request.time_limit, on_log=on_log, request_id=str(request.id))

    def close(self) -> None:
        """Close the staging pool (and stop the embedded PostgreSQL) when this runtime opened it."""
        try:
            self._warehouse.close()
            if self.remote is not None:
                self.remote.close()
        except Exception:
            log.exception("warehouse did not close cleanly")
        self.parts.stop()
        self.reads.close()
        self._probe.close()
        if self._owns_db:
            self.db.close()


def _log_line(kept: dict[str, str]) -> LogLine:
    """A run history's log line as the relay writes it back to `ferry workflow run`."""
    return LogLine(dt.datetime.fromisoformat(kept["time"]), kept["level"], kept["message"])  # type: ignore[arg-type]
