"""The console's Workflows pages: the workflow scripts an operator may see (next run, last outcome, Run now), one
workflow's runs, and one run's log."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ferry import errors
from ferry.errors import FerryError
from ferry.server.console.session import PATH
from ferry.workflows import access, script_runs

if TYPE_CHECKING:
    from ferry.server.console.routes import Console

RUN_NOW_WAIT_SECONDS = 3.0  # a short run's page opens on its outcome; a longer one on `running`
FLASH = {"started": "Run started; it is still running: reload to follow its log.",
         "ran": "Run finished."}


class WorkflowPages:
    """The handlers, on top of the console's plumbing (`ferry.server.console.routes.Console`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.runtime = console.runtime

    def _visible(self, operator: Any, name: str) -> Any:
        from ferry.server.console.routes import ConsoleError

        try:
            return access.get_visible(self.runtime.db.pool, operator, name)
        except FerryError as exc:
            raise ConsoleError(404, exc.code, exc.message) from None

    def _list(self, operator: Any) -> list[tuple[Any, dict[str, Any] | None]]:
        pool = self.runtime.db.pool
        return [(w, next(iter(script_runs.list_runs(pool, w.name, limit=1)), None))
                for w in access.visible(pool, operator)]

    async def workflows(self, request: Request) -> Response:
        """Every workflow the operator may see, with schedule, next run, last outcome and Run now."""
        session = await self.console.session(request)
        found = await asyncio.to_thread(self._list, session.operator)
        return self.console.render("workflows.html", session=session, nav="workflows", workflows=found,
                                   flash=FLASH.get(request.query_params.get("done", "")))

    async def workflow(self, request: Request) -> Response:
        """One workflow and its latest runs."""
        session = await self.console.session(request)
        workflow = await asyncio.to_thread(self._visible, session.operator, request.path_params["name"])
        runs = await asyncio.to_thread(script_runs.list_runs, self.runtime.db.pool, workflow.name, limit=50)
        return self.console.render("workflow.html", session=session, nav="workflows", workflow=workflow, runs=runs,
                                   flash=FLASH.get(request.query_params.get("done", "")))

    async def run(self, request: Request) -> Response:
        """One run: outcome, error and line, vars, request ids, and its log."""
        from ferry.server.console.routes import ConsoleError, _uuid

        session = await self.console.session(request)
        workflow = await asyncio.to_thread(self._visible, session.operator, request.path_params["name"])
        run_id = _uuid(request.path_params["run_id"])
        found = await asyncio.to_thread(script_runs.get_run, self.runtime.db.pool, run_id) if run_id else None
        if found is None or found["workflow"] != workflow.name:
            raise ConsoleError(404, errors.CONSOLE_NOT_FOUND, "no such run")
        ended = found["ended_at"]
        found["duration"] = (ended - found["started_at"]).total_seconds() if ended else None
        return self.console.render("workflow_run.html", session=session, nav="workflows", workflow=workflow,
                                   run=found, flash=FLASH.get(request.query_params.get("done", "")))

    async def run_now(self, request: Request) -> Response:
        """POST /console/workflows/run: start a run (CSRF token, and the rights to see the workflow)."""
        from ferry.server.console.routes import ConsoleError

        session, form = await self.console.post(request)
        workflow = await asyncio.to_thread(self._visible, session.operator, str(form.get("name", "")))
        runner = self.runtime.workflows
        try:
            run_id: uuid.UUID = await asyncio.to_thread(runner.start_run, workflow.name, trigger="console",
                                                        started_by=session.operator.login)
        except FerryError as exc:
            raise ConsoleError(409, exc.code, exc.message) from None
        ended = await runner.wait_async(run_id, RUN_NOW_WAIT_SECONDS)
        done = "ran" if ended is not None else "started"
        return RedirectResponse(f"{PATH}/workflows/{workflow.name}/runs/{run_id}?done={done}", status_code=303)


def add_routes(router: APIRouter, console: Console) -> None:
    """Attach the Workflows pages to the console's router."""
    pages = WorkflowPages(console)
    router.add_api_route("/workflows", pages.workflows, methods=["GET"])
    router.add_api_route("/workflows/run", pages.run_now, methods=["POST"])
    router.add_api_route("/workflows/{name}", pages.workflow, methods=["GET"])
    router.add_api_route("/workflows/{name}/runs/{run_id}", pages.run, methods=["GET"])
