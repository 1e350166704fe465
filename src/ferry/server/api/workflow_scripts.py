"""Workflow scripts from outside: REST `/api/v1/workflow…` and SOAP `xtk:workflow#Start`, `StartWithParameters`,
`Stop` by internal name, as the Adobe SDK calls them (`NLWS.xtkWorkflow.start("importer")`).

Runs go through the process's `ferry.workflows.runner.ScriptRunner` (`runtime.workflows`), in its threads; these
calls return once the run started (REST `?wait=true`: once it ended). Rights (`ferry.workflows.access`): an operator
sees and starts the workflows that run as an operator whose rights it holds; admins all; others are unknown.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.

import asyncio
import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from lxml import etree

from ferry import errors
from ferry.auth import Operator
from ferry.errors import FerryError
from ferry.server.api.soap import SoapContext, SoapRouter
from ferry.soap.writer import Output
from ferry.workflows import access, script_runs
from ferry.workflows.definitions import Workflow

WORKFLOW_URNS = frozenset({"xtk:workflow"})
REST_WAIT_SECONDS = 300.0
RECENT_RUNS = 20


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """A run as REST shows it (with its log when the row carries it)."""
    view = {"id": str(run["id"]), "workflow": run["workflow"], "state": run["state"], "trigger": run["trigger"],
            "startedBy": run.get("started_by"), "operator": run.get("operator_login"),
            "startedAt": _iso(run["started_at"]), "endedAt": _iso(run["ended_at"]),
            "scheduledFor": _iso(run.get("scheduled_for")), "scriptVersion": run["script_version"],
            "vars": run.get("vars") or {}, "errorCode": run["error_code"], "error": run["error"],
            "line": run["line"], "column": run["col"], "logDropped": run["log_dropped"],
            "requestIds": list(run["request_ids"] or [])}
    if "log" in run:
        view["log"] = run["log"]
    else:
        view["logLines"] = run.get("log_lines")
    return view


def _workflow_view(workflow: Workflow, last: dict[str, Any] | None) -> dict[str, Any]:
    return {**workflow.view(), "lastRun": run_view(last) if last else None}


def _runner(runtime: Any) -> Any:
    return runtime.workflows


async def start(runtime: Any, operator: Operator, name: str, *, trigger: str, run_vars: dict[str, Any]) -> uuid.UUID:
    """Start a run of a workflow `operator` may use; its id."""
    workflow = await asyncio.to_thread(access.get_visible, runtime.db.pool, operator, name)
    return await asyncio.to_thread(_runner(runtime).start_run, workflow.name, trigger=trigger,
                                   started_by=operator.login, run_vars=run_vars)


async def stop(runtime: Any, operator: Operator, name: str) -> int:
    """Ask the running run of a workflow `operator` may use to stop; how many runs were asked."""
    workflow = await asyncio.to_thread(access.get_visible, runtime.db.pool, operator, name)
    return int(await asyncio.to_thread(_runner(runtime).stop_run, workflow.name))


# -- SOAP ---------------------------------------------------------------------------------------------------------


def _soap_name(ctx: SoapContext, method: str) -> str:
    name = ctx.soap.text(("strWorkflowId", "workflowId", "id"), 1).strip()
    if not name:
        raise FerryError(errors.SOAP_MISSING_PARAMETER, f"{method} needs the workflow's internal name as its "
                         "strWorkflowId parameter")
    return name


def _soap_vars(element: etree._Element | None) -> dict[str, Any]:
    """`<variables a="1" b="2"/>` (or `<variables><a>1</a></variables>`) → {"a": "1", "b": "2"}."""
    if element is None:
        return {}
    found: dict[str, Any] = {str(etree.QName(k).localname): v for k, v in element.attrib.items()
                             if etree.QName(k).localname != "xtkschema"}
    for child in element:
        if isinstance(child.tag, str):
            found[etree.QName(child).localname] = child.text or ""
    return found


async def soap_start(ctx: SoapContext) -> list[Output]:
    """`xtk:workflow#Start(strWorkflowId)`: start a run now."""
    assert ctx.operator is not None
    await start(ctx.runtime, ctx.operator, _soap_name(ctx, "Start"), trigger="soap", run_vars={})
    return []


async def soap_start_with_parameters(ctx: SoapContext) -> list[Output]:
    """`xtk:workflow#StartWithParameters(strWorkflowId, elemParameters)`: start a run with `vars` from
    `<variables k="v"/>`."""
    assert ctx.operator is not None
    run_vars = _soap_vars(ctx.soap.document(("elemParameters", "parameters", "variables"), 2))
    await start(ctx.runtime, ctx.operator, _soap_name(ctx, "StartWithParameters"), trigger="soap", run_vars=run_vars)
    return []


async def soap_stop(ctx: SoapContext) -> list[Output]:
    """`xtk:workflow#Stop(strWorkflowId)`: stop the running run (nothing to stop is not an error, as in Campaign)."""
    assert ctx.operator is not None
    await stop(ctx.runtime, ctx.operator, _soap_name(ctx, "Stop"))
    return []


def register_soap(router: SoapRouter) -> None:
    """Serve Start, StartWithParameters and Stop."""
    router.add(WORKFLOW_URNS, "Start", soap_start)
    router.add(WORKFLOW_URNS, "StartWithParameters", soap_start_with_parameters)
    router.add(WORKFLOW_URNS, "Stop", soap_stop)


# -- REST ---------------------------------------------------------------------------------------------------------


def _listing(runtime: Any, operator: Operator) -> list[dict[str, Any]]:
    return [_workflow_view(w, next(iter(script_runs.list_runs(runtime.db.pool, w.name, limit=1)), None))
            for w in access.visible(runtime.db.pool, operator)]


def _one(runtime: Any, operator: Operator, name: str) -> dict[str, Any]:
    workflow = access.get_visible(runtime.db.pool, operator, name)
    runs = script_runs.list_runs(runtime.db.pool, workflow.name, limit=RECENT_RUNS)
    return {**_workflow_view(workflow, runs[0] if runs else None), "runs": [run_view(run) for run in runs]}


def _run(runtime: Any, operator: Operator, name: str, run_id: uuid.UUID) -> dict[str, Any]:
    workflow = access.get_visible(runtime.db.pool, operator, name)
    run = script_runs.get_run(runtime.db.pool, run_id)
    if run is None or run["workflow"] != workflow.name:
        raise FerryError(errors.RECORD_NOT_FOUND, f"no run {run_id} of workflow {name}")
    return run_view(run)


def build_router(runtime: Any, current_operator: Any) -> APIRouter:
    """`/api/v1/workflow`, `/api/v1/workflow/{name}`, `…/start`, `…/stop`, `…/runs/{run_id}`."""
    from ferry.server.api.rest_support import API_PREFIX, FerryRoute

    api = APIRouter(prefix=API_PREFIX, tags=["workflows"], route_class=FerryRoute)
    Caller = Annotated[Operator, Depends(current_operator)]

    @api.get("/workflow", summary="The workflow scripts this operator may see, with next and last run")
    async def workflows(request: Request, operator: Caller) -> dict[str, Any]:
        return {"workflows": await asyncio.to_thread(_listing, runtime, operator)}

    @api.get("/workflow/{name}", summary="One workflow script and its latest runs")
    async def workflow(request: Request, name: str, operator: Caller) -> dict[str, Any]:
        return await asyncio.to_thread(_one, runtime, operator, name)

    @api.post("/workflow/{name}/start", summary="Start a run of a workflow script now")
    async def start_run(request: Request, name: str, operator: Caller,
                        body: Annotated[dict[str, Any] | None, Body(
                            description='Optional: {"vars": {"name": "value"}} for the script\'s vars')] = None,
                        wait: Annotated[bool, Query(description="Return when the run has ended")] = False
                        ) -> dict[str, Any]:
        run_vars = (body or {}).get("vars") or {}
        if not isinstance(run_vars, dict):
            raise FerryError(errors.BAD_REQUEST, '"vars" must be an object of names and values')
        run_id = await start(runtime, operator, name, trigger="rest", run_vars=run_vars)
        if wait:
            await _runner(runtime).wait_async(run_id, REST_WAIT_SECONDS)
        return await asyncio.to_thread(_run, runtime, operator, name, run_id)

    @api.post("/workflow/{name}/stop", summary="Stop the running run of a workflow script")
    async def stop_run(request: Request, name: str, operator: Caller) -> dict[str, Any]:
        return {"stopping": await stop(runtime, operator, name)}

    @api.get("/workflow/{name}/runs/{run_id}", summary="One run of a workflow script, with its log")
    async def run(request: Request, name: str, run_id: uuid.UUID, operator: Caller) -> dict[str, Any]:
        return await asyncio.to_thread(_run, runtime, operator, name, run_id)

    return api
