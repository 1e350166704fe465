"""The console pages under /console: login, overview, runs, failed/skipped rows, lookup, schemas (and the
Workflows pages of `ferry.server.console.workflow_pages`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import threading
import uuid
from importlib import resources
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ferry import errors
from ferry.auth import rights
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.server.console import charts, queries, workflow_pages
from ferry.server.console.session import (
    LOGIN_CSRF_COOKIE,
    PATH,
    ConsoleSession,
    clear_session_cookie,
    login_csrf,
    read_cookie,
    same_token,
    set_login_csrf,
    set_session_cookie,
)
from ferry.server.door import route_rights, zones
from ferry.server.process.runtime import Runtime
from ferry.workflows.history import RUN_STATES

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
SYNC_WAIT_SECONDS = 10.0
FLASH = {
    "requeued": "Row re-queued: the next sync applies it.",
    "discarded": "Row discarded: it stays failed and is listed under discarded.",
    "queued": "Sync started; it is still running: reload to follow it.",
    "synced": "Sync finished.",
}


class NeedLogin(Exception):
    """No valid console session: answered with a 303 to the login page."""


class ConsoleError(Exception):
    """An error page with an HTTP status and a FerryError-style code."""

    def __init__(self, status: int, code: errors.Code, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("ferry.server.console", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["ts"] = _ts
    env.filters["short"] = _short
    env.filters["ago"] = _ago
    env.filters["dur"] = _duration
    env.globals["css"] = (resources.files("ferry.server.console") / "static" / "console.css").read_text("utf-8")
    return env


def _ts(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _short(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%m-%d %H:%M:%S") if value else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _ago(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    delta = (value - queries.now()).total_seconds()
    return f"in {_duration(delta)}" if delta >= 0 else f"{_duration(-delta)} ago"


class Console:
    """The page handlers, bound to one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.env = _environment()
        self._sync_lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, session: ConsoleSession | None = None,
               **context: Any) -> HTMLResponse:
        """A page with the security headers."""
        health = self._health() if session is not None else []
        html = self.env.get_template(name).render(session=session, nav=context.pop("nav", ""), health=health,
                                                  **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def _health(self) -> list[dict[str, Any]]:
        """The parts that are not up (staging, warehouse, writer), for the banner every page shows: cached states,
        no query."""
        monitor = getattr(self.runtime, "parts", None)
        if monitor is None:
            return []
        found = []
        for part in monitor.names:
            state = monitor.peek(part)
            if state.status in ("up", "off", "unknown"):
                continue
            found.append({"part": part, "status": state.status, "reason": state.reason,
                          "since": dt.datetime.fromtimestamp(state.since, dt.UTC)})
        return found

    async def session(self, request: Request) -> ConsoleSession:
        """The operator behind the console cookie, or NeedLogin."""
        pair = read_cookie(request)
        if pair is None:
            raise NeedLogin()
        try:
            operator = await self.runtime.auth.check_async(*pair)
        except FerryError:
            raise NeedLogin() from None
        try:
            # The page's rule (ferry.server.door.route_rights).
            route_rights.enforce_request(request, operator, admin_code=errors.CONSOLE_FORBIDDEN)
        except FerryError as exc:
            raise ConsoleError(403, exc.code, exc.message) from None
        return ConsoleSession(operator, *pair)

    async def post(self, request: Request) -> tuple[ConsoleSession, FormData]:
        """A logged-in POST carrying this session's CSRF token (403 otherwise)."""
        session = await self.session(request)
        form = await request.form()
        if not same_token(session.csrf, form.get("csrf")):
            raise ConsoleError(403, errors.CONSOLE_CSRF, "This form is stale or did not come from the console; "
                               "reload the page and try again.")
        return session, form

    def schema(self, session: ConsoleSession, schema_id: object) -> Schema:
        """A staged schema this operator may see."""
        schema = self.runtime.registry.get(schema_id) if isinstance(schema_id, str) else None
        if schema is None or not schema.staged:
            raise ConsoleError(404, errors.CONSOLE_NOT_FOUND, f"no staged schema {schema_id!s}")
        self.require_view(session, schema.id)
        return schema

    def require_view(self, session: ConsoleSession, schema_id: str) -> None:
        """Row values are shown only to operators with the read right on the schema (admins have all)."""
        if not rights.can_read(session.operator, schema_id):
            raise ConsoleError(403, errors.FORBIDDEN, f"operator {session.operator.login!r} has no right on "
                               f"{schema_id}")

    @staticmethod
    def require_admin(session: ConsoleSession) -> None:
        """Re-queue and discard are for admins only."""
        if not session.operator.admin:
            raise ConsoleError(403, errors.CONSOLE_FORBIDDEN, f"operator {session.operator.login!r} is not an "
                               "admin; only admins may re-queue or discard rows")

    def db_call(self, fn: Any, *args: Any) -> Any:
        """Run a blocking staging query off the event loop."""
        return asyncio.to_thread(fn, *args)

    async def favicon(self, request: Request) -> Response:
        """The console's icon (an SVG; public, like the login page)."""
        icon = (resources.files("ferry.server.console") / "static" / "favicon.svg").read_bytes()
        return Response(icon, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    # -- login -------------------------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """The login page (a fresh double-submit token for the login form)."""
        token = login_csrf(request)
        response = self.render("login.html", csrf=token, error=None, login="")
        set_login_csrf(request, response, token)
        return response

    async def login(self, request: Request) -> Response:
        """Check the form token, log on, set the session cookie."""
        form = await request.form()
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if len(expected) < 20 or not same_token(expected, form.get("csrf")):
            raise ConsoleError(403, errors.CONSOLE_CSRF, "The login form is stale; reload the login page.")
        login, password = str(form.get("login", "")), str(form.get("password", ""))
        try:
            address = zones.client_address(request)
            result = await asyncio.to_thread(lambda: self.runtime.auth.logon(login, password, address=address,
                                                                             via="console"))
        except FerryError as exc:
            if exc.code is errors.LOGON_THROTTLED:
                page = self.render("login.html", status=429, csrf=expected, login=login, error=exc.message)
                page.headers["Retry-After"] = str(max(1, round(getattr(exc, "retry_after", 1) or 1)))
                return page
            return self.render("login.html", status=401, csrf=expected, login=login,
                               error="Wrong login or password, or the operator is disabled.")
        response = RedirectResponse(f"{PATH}", status_code=303)
        max_age = max(60, int((result.expires_at - queries.now()).total_seconds()))
        set_session_cookie(request, response, result.session_token, result.security_token, max_age)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PATH)
        return response

    async def logout(self, request: Request) -> Response:
        """Revoke the session and drop the cookie."""
        session, _ = await self.post(request)
        await asyncio.to_thread(self.runtime.auth.logoff, session.session_token)
        response = RedirectResponse(f"{PATH}/login", status_code=303)
        clear_session_cookie(request, response)
        return response

    # -- pages -------------------------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        """Per staged schema: counts, lag, last and next run, sync now; backlog and applied charts."""
        session = await self.session(request)
        await self.runtime.refresh_schemas()
        lines = await self.db_call(queries.overview, self.runtime.db, self.runtime.settings.sync_interval,
                                   self.runtime.scheduler)
        lines = [line for line in lines if rights.can_read(session.operator, line.schema_id)]
        history = await self._history(session, None)
        backlog_now = sum(line.counts.get("staged", 0) for line in lines)
        return self.render("overview.html", session=session, nav="overview", lines=lines,
                           flash=FLASH.get(request.query_params.get("done", "")),
                           backlog=_backlog_chart(history, backlog_now), applied=_applied_chart(history),
                           can_sync={line.schema_id: self.runtime.auth.can_ingest(session.operator, line.schema_id)
                                     for line in lines},
                           scheduler=self.runtime.scheduler is not None,
                           continuous=float(self.runtime.settings.sync_interval) <= 0,
                           interval=self.runtime.settings.sync_interval)

    async def sync_now(self, request: Request) -> Response:
        """Start a sync of one schema through the process's sync service; wait a little, then show the run."""
        session, form = await self.post(request)
        schema = self.schema(session, form.get("schema"))
        try:
            run_ids, finished = await self._trigger(schema.id)
        except FerryError as exc:
            raise ConsoleError(503, exc.code, exc.text) from None
        if not run_ids:
            return RedirectResponse(f"{PATH}/runs?done=queued", status_code=303)
        done = "synced" if finished else "queued"
        return RedirectResponse(f"{PATH}/runs/{run_ids[0]}?done={done}", status_code=303)

    @staticmethod
    def _may_read_run(session: ConsoleSession, run: dict[str, Any]) -> bool:
        schema_id = run.get("schema_id")
        return session.operator.admin or (bool(schema_id) and rights.can_read(session.operator, str(schema_id)))

    async def _history(self, session: ConsoleSession, schema_id: str | None) -> list[dict[str, Any]]:
        """Sync runs for the charts, of the schemas this operator may read."""
        history: list[dict[str, Any]] = await self.db_call(queries.sync_runs_ascending, self.runtime.db.pool,
                                                           schema_id)
        return [run for run in history if self._may_read_run(session, run)]

    async def _trigger(self, schema_id: str) -> tuple[list[uuid.UUID], bool]:
        """`runtime.sync` (trigger + wait) when the runtime has one, else `ferry.sync.run_once` in a worker thread."""
        service = getattr(self.runtime, "sync", None)
        if service is not None and callable(getattr(service, "trigger", None)):
            run_ids: list[uuid.UUID] = await _maybe_await(service.trigger(schema_id))
            waiter = getattr(service, "wait", None)
            results = await _maybe_await(waiter(run_ids, SYNC_WAIT_SECONDS)) if callable(waiter) else None
            return run_ids, results is not None
        return [await asyncio.to_thread(self._sync_inline, schema_id)], True

    def _sync_inline(self, schema_id: str) -> uuid.UUID:
        from ferry.sync import run_once
        from ferry.warehouse import open_warehouse

        with self._sync_lock:
            warehouse = open_warehouse(self.runtime.settings.effective_warehouse_url)
            try:
                result = run_once(self.runtime.db, warehouse, schema_id, self.runtime.settings)
            finally:
                warehouse.close()
        return result.run_id

    async def runs(self, request: Request) -> Response:
        """Run history with counts per outcome, duration and error, and the two charts."""
        session = await self.session(request)
        schema_id = request.query_params.get("schema") or None
        state = request.query_params.get("state") or None
        if state not in (None, *RUN_STATES):
            raise ConsoleError(404, errors.CONSOLE_NOT_FOUND, f"no run state {state!r}")
        found = [run for run in await self.db_call(queries.runs, self.runtime.db.pool, schema_id, 100, state)
                 if self._may_read_run(session, run)]
        history = await self._history(session, schema_id)
        return self.render("runs.html", session=session, nav="runs", runs=found, schema_id=schema_id,
                           state=state, states=RUN_STATES,
                           schemas=[s.id for s in self.runtime.registry.staged()
                                    if rights.can_read(session.operator, s.id)],
                           flash=FLASH.get(request.query_params.get("done", "")),
                           applied=_applied_chart(history), read=_read_chart(history))

    async def run(self, request: Request) -> Response:
        """One run."""
        session = await self.session(request)
        run_id = _uuid(request.path_params["run_id"])
        found = await self.db_call(queries.run, self.runtime.db.pool, run_id) if run_id else None
        if found is None or not self._may_read_run(session, found):
            raise ConsoleError(404, errors.CONSOLE_NOT_FOUND, "no such run")
        return self.render("run.html", session=session, nav="runs", run=found,
                           flash=FLASH.get(request.query_params.get("done", "")))

    async def rows(self, request: Request) -> Response:
        """Failed or skipped rows of one schema, with re-queue / discard for admins."""
        session = await self.session(request)
        staged = [s.id for s in self.runtime.registry.staged()
                  if self.runtime.auth.can_ingest(session.operator, s.id)]
        params = request.query_params
        schema_id = params.get("schema") or (staged[0] if staged else None)
        state = params.get("state", "failed") if params.get("state") in ("failed", "skipped") else "failed"
        show = params.get("show", "open") if params.get("show") in ("open", "discarded", "all") else "open"
        found: list[queries.RowView] = []
        if schema_id is not None:
            schema = self.schema(session, schema_id)
            found = await self.db_call(queries.rows, self.runtime.db, schema, state, show)
        return self.render("rows.html", session=session, nav="rows", rows=found, schemas=staged,
                           schema_id=schema_id, state=state, show=show, limit=queries.ROW_LIMIT,
                           flash=FLASH.get(params.get("done", "")))

    async def requeue(self, request: Request) -> Response:
        """POST /console/rows/requeue: stage a failed row again (admin only, recorded)."""
        return await self.row_action(request, "requeue")

    async def discard(self, request: Request) -> Response:
        """POST /console/rows/discard: mark a failed row discarded (admin only, recorded)."""
        return await self.row_action(request, "discard")

    async def row_action(self, request: Request, action: str) -> Response:
        """Re-queue or discard: admin only, recorded with the operator and time."""
        session, form = await self.post(request)
        self.require_admin(session)
        schema = self.schema(session, form.get("schema"))
        row_uuid = _uuid(form.get("uuid"))
        if row_uuid is None:
            raise ConsoleError(400, errors.CONSOLE_NOT_FOUND, "not a row UUID")
        note = str(form.get("note", "")).strip()[:500] or None
        apply = queries.requeue if action == "requeue" else queries.discard
        try:
            await self.db_call(apply, self.runtime.db, schema, row_uuid, session.operator.login, note)
        except FerryError as exc:
            raise ConsoleError(404 if exc.code == errors.CONSOLE_NOT_FOUND else 409, exc.code, exc.text) from None
        back = form.get("back")
        if back == "lookup":
            return RedirectResponse(f"{PATH}/lookup?q={row_uuid}&done={action}d", status_code=303)
        return RedirectResponse(f"{PATH}/rows?schema={schema.id}&state=failed&done={action}d", status_code=303)

    async def lookup(self, request: Request) -> Response:
        """A record by UUID, or a call by request id, with its history."""
        session = await self.session(request)
        text = request.query_params.get("q", "").strip()
        key = _uuid(text)
        record = call = None
        if key is not None:
            record = await self.db_call(queries.record_history, self.runtime.db, key)
            if record is not None:
                self.require_view(session, record.row.schema_id)
            else:
                call = await self.db_call(queries.request_history, self.runtime.db, key)
                if call is not None:
                    for schema_id in call["schemas"]:
                        self.require_view(session, schema_id)
        return self.render("lookup.html", session=session, nav="lookup", q=text, valid=key is not None,
                           record=record, call=call, flash=FLASH.get(request.query_params.get("done", "")))

    async def schemas(self, request: Request) -> Response:
        """Attributes, keys and staging state of every staged schema; services when the module provides them."""
        session = await self.session(request)
        await self.runtime.refresh_schemas()
        statuses = {s.schema_id: s for s in await self.db_call(self.runtime.db.store.status)}
        operator = session.operator
        services = None
        may_see_services = rights.can_read(operator, rights.SUBSCRIPTION) and rights.can_read(operator,
                                                                                             rights.RECIPIENT)
        if may_see_services:
            services = await self.runtime.reads.run(queries.services_view, self.runtime.db,
                                                    lambda: self.runtime.warehouse)
        visible = [s for s in self.runtime.registry.staged() if rights.can_read(operator, s.id)]
        return self.render("schemas.html", session=session, nav="schemas", schemas=visible,
                           statuses=statuses, services=services, may_see_services=may_see_services)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _label(run: dict[str, Any]) -> str:
    moment: dt.datetime = run["started_at"]
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S")


def _backlog_chart(history: list[dict[str, Any]], backlog_now: int) -> Any:
    points = [(run["started_at"], float(run["rows_read"])) for run in history]
    if points or backlog_now:
        points.append((queries.now(), float(backlog_now)))
    return charts.line_chart(points, title="Backlog: rows read per run, then rows staged now",
                             y_label="rows")


def _read_chart(history: list[dict[str, Any]]) -> Any:
    return charts.line_chart([(run["started_at"], float(run["rows_read"])) for run in history],
                             title="Rows read per run (the backlog each run found)", y_label="rows")


def _applied_chart(history: list[dict[str, Any]]) -> Any:
    names = ("inserted", "updated", "deleted", "skipped", "failed")
    return charts.bar_chart([_label(run) for run in history],
                            {name: [float(run[f"rows_{name}"]) for run in history] for name in names},
                            title="Rows applied per run", y_label="rows")


def build_console(runtime: Runtime) -> APIRouter:
    """The console's routes (the app also needs the handlers `install` adds)."""
    console = Console(runtime)
    router = APIRouter(prefix=PATH, include_in_schema=False)
    router.add_api_route("/favicon.svg", console.favicon, methods=["GET"])
    router.add_api_route("/login", console.login_form, methods=["GET"])
    router.add_api_route("/login", console.login, methods=["POST"])
    router.add_api_route("/logout", console.logout, methods=["POST"])
    router.add_api_route("", console.overview, methods=["GET"])
    router.add_api_route("/", console.overview, methods=["GET"])
    router.add_api_route("/sync", console.sync_now, methods=["POST"])
    router.add_api_route("/runs", console.runs, methods=["GET"])
    router.add_api_route("/runs/{run_id}", console.run, methods=["GET"])
    router.add_api_route("/rows", console.rows, methods=["GET"])
    router.add_api_route("/rows/requeue", console.requeue, methods=["POST"])
    router.add_api_route("/rows/discard", console.discard, methods=["POST"])
    router.add_api_route("/lookup", console.lookup, methods=["GET"])
    router.add_api_route("/schemas", console.schemas, methods=["GET"])
    workflow_pages.add_routes(router, console)
    router.state = console  # type: ignore[attr-defined]
    return router


def install(app: FastAPI, runtime: Runtime) -> None:
    """Mount the console on the app: its routes and its two exception handlers (login redirect, error page)."""
    router = build_console(runtime)
    console: Console = router.state  # type: ignore[attr-defined]

    async def need_login(request: Request, exc: Exception) -> Response:
        response = RedirectResponse(f"{PATH}/login", status_code=303, headers=SECURITY_HEADERS)
        if request.cookies.get("ferry_console"):
            clear_session_cookie(request, response)
        return response

    async def error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleError)
        return console.render("error.html", status=exc.status, code=exc.code.code, message=exc.message)

    app.include_router(router)
    app.add_exception_handler(NeedLogin, need_login)
    app.add_exception_handler(ConsoleError, error_page)
