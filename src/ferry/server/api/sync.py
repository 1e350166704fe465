"""Starting the sync from outside: REST `/api/v1/sync…`, `/api/v1/workflows…`, and SOAP
`nms:replicationStrategy#StartReplicateStagingData(schema)` (Campaign's own way to force the replication).

`SyncService` adapts the thread-based `ferry.workflows.Scheduler` to the app's event loop: blocking work runs in
worker threads. Rights: starting a sync of a schema needs the admin right or the ingest right on that schema;
starting every schema (`POST /api/v1/sync`) and reading the run history need the admin right.
StartReplicateStagingData waits at most `SOAP_WAIT_SECONDS` (well under the SDK's 5 s timeout) for the run; a
longer run goes on in the background and the call returns once it has been started.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
import datetime as dt
import logging
import os
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ferry import errors
from ferry.auth import AuthError, Operator, rights
from ferry.config import Settings
from ferry.errors import FerryError
from ferry.server.api.soap import SoapContext, SoapRouter
from ferry.soap.writer import Output
from ferry.staging import StagingDatabase
from ferry.sync import RunResult
from ferry.warehouse.base import COUNT_NAMES, Warehouse
from ferry.workflows import Scheduler, list_runs

REPLICATION_URNS = frozenset({"nms:replicationStrategy"})
SOAP_WAIT_SECONDS = 3.5
REST_WAIT_SECONDS = 300.0

log = logging.getLogger(__name__)


class SyncService:
    """The sync scheduler of one process, awaitable: `start`/`stop` (periodic loop), `trigger`, `wait`."""

    def __init__(self, db: StagingDatabase, warehouse: Warehouse, settings: Settings, *, periodic: bool) -> None:
        self.scheduler = Scheduler(db, warehouse, settings)
        self.periodic = periodic

    async def start(self) -> None:
        """Start the periodic loop when this service is periodic (`ferry serve`)."""
        if self.periodic:
            await asyncio.to_thread(self.scheduler.start)

    async def stop(self) -> None:
        """Stop the loop and let a run in progress finish."""
        await asyncio.to_thread(self.scheduler.stop)

    async def trigger(self, schema_id: str | None = None) -> list[uuid.UUID]:
        """Queue a run now for one schema (`ns:name` or `ns:nameStg`) or for every staged schema."""
        return await asyncio.to_thread(self.scheduler.trigger, schema_id)

    async def wait(self, run_ids: list[uuid.UUID], timeout: float) -> list[RunResult] | None:
        """The runs' results, or None when they have not all ended within `timeout` seconds."""
        try:
            return await asyncio.to_thread(self.scheduler.wait, run_ids, timeout)
        except (TimeoutError, FutureTimeout):
            return None


class RelayedSync:
    """The sync service of a worker that does not own the warehouse (`ferry serve --workers N` with DuckDB): runs
    are requested through staging (`ferry.sync_requests`), started by the owner's scheduler, and waited for in
    `ferry.workflow_runs`."""

    periodic = False
    take_seconds = 10.0  # how long the owner has to take a request before the trigger gives up
    poll_seconds = 0.05

    def __init__(self, db: StagingDatabase, owner: Any) -> None:
        self.db = db
        self.owner = owner  # a RemoteWarehouse: it asks the owner to take the request at once

    async def start(self) -> None:
        """Nothing to start: the owner's scheduler runs the periodic loop."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def trigger(self, schema_id: str | None = None) -> list[uuid.UUID]:
        """Request a run now for one schema or every staged schema; the run ids once the owner took the request."""
        return await asyncio.to_thread(self._trigger, schema_id)

    def _trigger(self, schema_id: str | None) -> list[uuid.UUID]:
        from ferry.warehouse.remote import error_from_text
        from ferry.workflows.requests import cancel_request, request_state, request_sync

        request_id = request_sync(self.db.pool, schema_id, requested_by=f"ferry serve worker (PID {os.getpid()})")
        try:
            self.owner.client.call("take_sync_requests", timeout=self.take_seconds)
        except FerryError as exc:
            if exc.code is errors.WAREHOUSE_UNAVAILABLE and cancel_request(self.db.pool, request_id):
                raise  # nobody listens on the owner's socket: its scheduler is gone too
            # Slow to answer: its loop still takes requests every second while it runs.
            log.info("could not ask the warehouse owner to take the sync request now: %s", exc.text)
        deadline = time.monotonic() + self.take_seconds
        state = request_state(self.db.pool, request_id)
        while state is not None and not state.taken and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
            state = request_state(self.db.pool, request_id)
        if (state is None or not state.taken) and cancel_request(self.db.pool, request_id):
            raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"{self.owner.link.who} did not take the sync request "
                             f"within {self.take_seconds:g} s: it runs the sync of this DuckDB warehouse")
        state = request_state(self.db.pool, request_id)
        assert state is not None and state.taken
        if state.error:
            raise error_from_text(state.error)
        return list(state.run_ids)

    async def wait(self, run_ids: list[uuid.UUID], timeout: float) -> list[RunResult] | None:
        """The runs' results, or None when they have not all ended within `timeout` seconds."""
        return await asyncio.to_thread(self._wait, run_ids, timeout)

    def _wait(self, run_ids: list[uuid.UUID], timeout: float) -> list[RunResult] | None:
        from psycopg.rows import dict_row

        deadline = time.monotonic() + timeout
        pause = self.poll_seconds
        while True:
            with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                rows = {row["id"]: row for row in cur.execute(
                    "SELECT * FROM ferry.workflow_runs WHERE id = ANY(%s)", (run_ids,)).fetchall()}
            if len(rows) == len(run_ids) and all(row["state"] != "running" for row in rows.values()):
                return [_run_result(rows[run_id]) for run_id in run_ids]
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(0.5, pause * 1.5)


def _run_result(row: dict[str, Any]) -> RunResult:
    counts = {name: int(row.get(f"rows_{name}") or 0) for name in COUNT_NAMES}
    return RunResult(row["id"], row["schema_id"], workflow=row["workflow"], state=row["state"],
                     batches=int(row.get("batches") or 0), counts=counts, error=row["error"],
                     started_at=row["started_at"], ended_at=row["ended_at"])


def _require_sync_right(runtime: Any, operator: Operator, schema_id: str | None) -> None:
    if operator.admin and not operator.disabled:
        return
    if schema_id is not None and runtime.auth.can_ingest(operator, schema_id):
        return
    what = f"start the sync of {schema_id}" if schema_id else "start the sync of every schema"
    raise AuthError(errors.FORBIDDEN, f"operator {operator.login!r} may not {what} (admin or ingest right needed)",
                    http_status=403)


def _resolve(runtime: Any, schema_id: str) -> str:
    try:
        return str(runtime.registry.resolve_staged(schema_id).id)
    except FerryError:
        runtime.db.reload_schemas()
        try:
            return str(runtime.registry.resolve_staged(schema_id).id)
        except FerryError as exc:
            raise FerryError(errors.SYNC_UNKNOWN_SCHEMA, f"{schema_id!r} is not a staged schema: {exc.message}") \
                from None


# -- SOAP ---------------------------------------------------------------------------------------------------------


async def start_replicate_staging_data(ctx: SoapContext) -> list[Output]:
    """`nms:replicationStrategy#StartReplicateStagingData(strSchema)`: sync that schema now; return when done
    (or after SOAP_WAIT_SECONDS with the run still going)."""
    assert ctx.operator is not None
    name = ctx.soap.text(("strSchema", "schema", "schemaName"), 1).strip()
    if not name:
        raise FerryError(errors.SOAP_MISSING_PARAMETER, "StartReplicateStagingData needs the schema id "
                         "(e.g. nms:recipient) as its strSchema parameter")
    schema_id = await asyncio.to_thread(_resolve, ctx.runtime, name)
    _require_sync_right(ctx.runtime, ctx.operator, schema_id)
    run_ids = await ctx.runtime.sync.trigger(schema_id)
    results = await ctx.runtime.sync.wait(run_ids, SOAP_WAIT_SECONDS)
    for result in results or ():
        if result.state == "failed":
            raise FerryError(errors.SYNC_FAILED, f"the sync of {schema_id} failed: {result.error}")
    return []


def register_soap(router: SoapRouter) -> None:
    """Serve StartReplicateStagingData."""
    router.add(REPLICATION_URNS, "StartReplicateStagingData", start_replicate_staging_data)


# -- REST ---------------------------------------------------------------------------------------------------------


def _run_view(run: Any) -> dict[str, Any]:
    if isinstance(run, RunResult):
        return {"id": str(run.run_id), "workflow": run.workflow, "schema": run.schema_id, "state": run.state,
                "startedAt": _iso(run.started_at), "endedAt": _iso(run.ended_at), "batches": run.batches,
                "rows": {k: int(v) for k, v in run.counts.items()}, "error": run.error}
    rows = {name: int(run.get(f"rows_{name}") or 0)
            for name in ("read", "inserted", "updated", "deleted", "skipped", "failed", "purged")}
    return {"id": str(run["id"]), "workflow": run["workflow"], "schema": run["schema_id"], "state": run["state"],
            "startedAt": _iso(run["started_at"]), "endedAt": _iso(run["ended_at"]), "batches": run.get("batches"),
            "rows": rows, "error": run["error"]}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _get_run(runtime: Any, run_id: uuid.UUID) -> dict[str, Any] | None:
    from psycopg.rows import dict_row

    with runtime.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row: dict[str, Any] | None = cur.execute("SELECT * FROM ferry.workflow_runs WHERE id = %s",
                                                 (run_id,)).fetchone()
    return row


def _may_read_run(operator: Operator, run: dict[str, Any]) -> bool:
    """A run of a schema is visible with the read right on it; runs of no schema to admins only."""
    schema_id = run.get("schema_id")
    return operator.admin or (bool(schema_id) and rights.can_read(operator, str(schema_id)))


def _visible_runs(runtime: Any, operator: Operator, schema: str | None, limit: int) -> list[dict[str, Any]]:
    if operator.admin or schema is not None:
        return list_runs(runtime.db.pool, schema, limit=limit)
    found: list[dict[str, Any]] = []
    for staged in runtime.registry.staged():
        if rights.can_read(operator, staged.id):
            found.extend(list_runs(runtime.db.pool, staged.id, limit=limit))
    found.sort(key=lambda run: run["started_at"], reverse=True)
    return found[:limit]


def build_router(runtime: Any, current_operator: Any) -> APIRouter:
    """`/api/v1/sync`, `/api/v1/sync/{schema}`, `/api/v1/workflows`, `/api/v1/workflows/{run_id}`.

    `current_operator` is the REST API's dependency resolving the caller from its tokens.
    """
    from ferry.server.api.rest import API_PREFIX, FerryRoute

    api = APIRouter(prefix=API_PREFIX, tags=["sync"], route_class=FerryRoute)
    Caller = Annotated[Operator, Depends(current_operator)]

    async def _start(schema_id: str | None, wait: bool) -> dict[str, Any]:
        run_ids = await runtime.sync.trigger(schema_id)
        if not wait:
            return {"runs": [{"id": str(r), "state": "queued"} for r in run_ids]}
        results = await runtime.sync.wait(run_ids, REST_WAIT_SECONDS)
        if results is None:
            return {"runs": [{"id": str(r), "state": "running"} for r in run_ids]}
        return {"runs": [_run_view(r) for r in results]}

    @api.post("/sync", summary="Start the sync of every staged schema now (admin)")
    async def sync_all(request: Request, operator: Caller,
                       wait: Annotated[bool, Query(description="Return when the runs have ended")] = False
                       ) -> dict[str, Any]:
        _require_sync_right(runtime, operator, None)
        return await _start(None, wait)

    @api.post("/sync/{schema}", summary="Start the sync of one staged schema now (ns:name or ns:nameStg)")
    async def sync_schema(request: Request, schema: str, operator: Caller,
                          wait: Annotated[bool, Query(description="Return when the run has ended")] = False
                          ) -> dict[str, Any]:
        schema_id = await asyncio.to_thread(_resolve, runtime, schema)
        _require_sync_right(runtime, operator, schema_id)
        return await _start(schema_id, wait)

    @api.get("/workflows", summary="The latest workflow runs, newest first (of the schemas the operator may read)")
    async def workflows(request: Request, operator: Caller, schema: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        # ?schema= was checked (read right) by the route's rule; without it a non-admin sees its schemas' runs.
        runs = await asyncio.to_thread(_visible_runs, runtime, operator, schema, limit)
        return {"runs": [_run_view(run) for run in runs]}

    @api.get("/workflows/{run_id}", summary="One workflow run (read right on its schema)")
    async def workflow(request: Request, run_id: uuid.UUID, operator: Caller) -> dict[str, Any]:
        run = await asyncio.to_thread(_get_run, runtime, run_id)
        if run is None or not _may_read_run(operator, run):
            raise FerryError(errors.RECORD_NOT_FOUND, f"no workflow run {run_id} visible to this operator")
        return _run_view(run)

    return api
