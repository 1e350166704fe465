"""What the console reads from staging and the run history, and the two row actions (re-queue, discard)."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.staging import outcomes
from ferry.staging.database import StagingDatabase
from ferry.staging.ddl import table_ident
from ferry.staging.store import STATES, calls_by_schema, current_rows, in_call_order, run_calls, run_head, staging_table
from ferry.sync.workflow import WORKFLOW

ROW_LIMIT = 200


@dataclass(frozen=True)
class SchemaOverview:
    """One line of the overview: counts, lag, last run, next run."""

    schema_id: str
    table: str
    counts: dict[str, int]
    lag_seconds: float
    oldest_unsynced: dt.datetime | None
    last_run: dict[str, Any] | None
    next_run: dt.datetime | None


def now() -> dt.datetime:
    """Aware UTC now."""
    return dt.datetime.now(dt.UTC)


def overview(db: StagingDatabase, sync_interval: float, scheduler: Any | None) -> list[SchemaOverview]:
    """Every staged schema with its row counts and its latest sync run."""
    out = []
    statuses = {status.schema_id: status for status in db.store.status()}
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        for schema in db.registry.staged():
            status = statuses.get(schema.id)
            # The last run that did something: read rows, failed or is running (an empty run changes nothing).
            last = cur.execute(
                "SELECT * FROM ferry.workflow_runs WHERE workflow = %s AND schema_id = %s "
                "AND (rows_read > 0 OR state IN ('failed', 'abandoned', 'running')) "
                "ORDER BY started_at DESC LIMIT 1", (WORKFLOW, schema.id)).fetchone()
            out.append(SchemaOverview(
                schema_id=schema.id,
                table=staging_table(schema),
                counts=status.counts if status else dict.fromkeys(STATES, 0),
                lag_seconds=status.lag_seconds if status else 0.0,
                oldest_unsynced=status.oldest_unsynced if status else None,
                last_run=last,
                next_run=_next_run(scheduler, schema.id, last, sync_interval),
            ))
    return out


def _next_run(scheduler: Any | None, schema_id: str, last: dict[str, Any] | None,
              sync_interval: float) -> dt.datetime | None:
    """The scheduler's own answer when it gives one (None when continuous), else the last start plus the interval,
    never in the past."""
    ask = getattr(scheduler, "next_run", None) if scheduler is not None else None
    if callable(ask):
        try:
            value = ask(schema_id)
        except Exception:
            value = None
        return value if isinstance(value, dt.datetime) else None
    if scheduler is None or last is None:
        return None  # no periodic loop in this process: runs happen on demand only
    started: dt.datetime = last["started_at"]
    return max(now(), started + dt.timedelta(seconds=sync_interval))


def runs(pool: ConnectionPool, schema_id: str | None = None, limit: int = 100,
         state: str | None = None) -> list[dict[str, Any]]:
    """Latest sync and purge runs (of one outcome when `state` is given), newest first, with their duration."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT *, extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at)::float8 AS duration "
            "FROM ferry.workflow_runs WHERE (%(s)s::text IS NULL OR schema_id = %(s)s) "
            "AND (%(state)s::text IS NULL OR state = %(state)s) "
            "ORDER BY started_at DESC LIMIT %(n)s",
            {"s": schema_id, "state": state, "n": max(1, min(limit, 5000))}).fetchall()
    return rows


def run(pool: ConnectionPool, run_id: uuid.UUID) -> dict[str, Any] | None:
    """One run, with its duration."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT *, extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at)::float8 AS duration "
            "FROM ferry.workflow_runs WHERE id = %s", (run_id,)).fetchone()


def sync_runs_ascending(pool: ConnectionPool, schema_id: str | None, limit: int = 60) -> list[dict[str, Any]]:
    """The latest sync runs (not the purge), oldest first: the data of the charts."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM (SELECT * FROM ferry.workflow_runs WHERE workflow = %(w)s AND state <> 'skipped' "
            "AND (%(s)s::text IS NULL OR schema_id = %(s)s) ORDER BY started_at DESC LIMIT %(n)s) r "
            "ORDER BY started_at", {"w": WORKFLOW, "s": schema_id, "n": limit}).fetchall()
    return rows


@dataclass
class RowView:
    """A staged row as the console shows it."""

    uuid: UUID
    schema_id: str
    sequence: int
    operation: str
    key: list[str] | None
    state: str
    reason: str | None
    request_id: UUID
    received_at: dt.datetime
    batch_id: UUID | None
    done_at: dt.datetime | None
    values: dict[str, Any]
    last_action: dict[str, Any] | None = None

    @property
    def discarded(self) -> bool:
        """Failed, and the operators' latest word on it was `discard`."""
        return self.state == "failed" and self.last_action is not None and self.last_action["action"] == "discard"


def _row_view(schema: Schema, row: dict[str, Any]) -> RowView:
    present = row["_present"] or []
    last = None
    if row.get("_last_action"):
        last = {"action": row["_last_action"], "operator": row["_last_operator"], "at": row["_last_at"]}
    return RowView(
        uuid=row["_uuid"], schema_id=schema.id, sequence=row["_seq"], operation=row["_op"], key=row["_key"],
        state=row["_state"], reason=row["_reason"], request_id=row["_request_id"], received_at=row["_received_at"],
        batch_id=row["_batch_id"], done_at=row["_done_at"],
        values={name: row[name] for name in present if name in row}, last_action=last)


_LAST_ACTION = sql.SQL(
    "LEFT JOIN LATERAL (SELECT action AS _last_action, operator AS _last_operator, at AS _last_at "
    "FROM ferry.row_actions a WHERE a.row_uuid = r._uuid ORDER BY a.at DESC, a.id DESC LIMIT 1) la ON true"
)


def _with_actions(schema: Schema, where: sql.Composable, tail: sql.Composable) -> sql.Composed:
    """Rows with their derived state (`ferry.staging.outcomes`) and the latest console action on each."""
    return sql.SQL("SELECT r.*, la.* FROM ({rows}) r {la} {tail}").format(
        rows=outcomes.rows_query(schema, where), la=_LAST_ACTION, tail=tail)


def rows(db: StagingDatabase, schema: Schema, state: str, show: str = "open",
         limit: int = ROW_LIMIT) -> list[RowView]:
    """Failed or skipped rows of one schema, newest first; failed rows filtered by open / discarded / all."""
    if state not in ("failed", "skipped"):
        raise FerryError(errors.CONSOLE_NOT_FOUND, f"no row list for state {state!r}")
    which = sql.SQL("")
    if state == "failed" and show == "open":
        which = sql.SQL(" AND la._last_action IS DISTINCT FROM 'discard'")
    elif state == "failed" and show == "discarded":
        which = sql.SQL(" AND la._last_action = 'discard'")
    # Driven by the exceptions (few), never by a scan of the log.
    where = sql.SQL("t._seq IN (SELECT seq FROM ferry.log_exceptions WHERE schema_id = %s AND state = %s "
                    "AND requeued_at IS NULL)")
    query = _with_actions(schema, where, sql.SQL("WHERE r._state = %s{which} ORDER BY r._seq DESC LIMIT %s").format(
        which=which))
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return [_row_view(schema, row) for row in cur.execute(query, (schema.id, state, state, limit))]


def find_row(db: StagingDatabase, row_uuid: uuid.UUID) -> RowView | None:
    """The staged row with this UUID, from whichever staged schema holds it."""
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        for schema in db.registry.staged():
            # The newest row of this UUID: a re-queued row is a new row with its UUID.
            query = _with_actions(schema, sql.SQL("t._uuid = %s"), sql.SQL("ORDER BY r._seq DESC LIMIT 1"))
            row = cur.execute(query, (row_uuid,)).fetchone()
            if row is not None:
                return _row_view(schema, row)
    return None


def _locked_failed_row(cur: Any, schema: Schema, row_uuid: uuid.UUID) -> dict[str, Any]:
    # The row's current state is its newest version's; the exception that makes it `failed` is locked, so two
    # operators acting at once do one thing.
    query = outcomes.rows_query(schema, sql.SQL("t._uuid = %s"), sql.SQL("ORDER BY t._seq DESC LIMIT 1"))
    row: dict[str, Any] | None = cur.execute(query, (row_uuid,)).fetchone()
    if row is None:
        row = cur.execute("SELECT seq AS _seq, 'failed' AS _state, reason AS _reason FROM ferry.log_exceptions "
                          "WHERE schema_id = %s AND row_uuid = %s AND requeued_at IS NULL AND state = 'failed' "
                          "ORDER BY seq DESC LIMIT 1", (schema.id, row_uuid)).fetchone()
    if row is None:
        raise FerryError(errors.CONSOLE_NOT_FOUND, f"no row {row_uuid} in {schema.id}")
    if row["_state"] != "failed":
        raise FerryError(errors.CONSOLE_ROW_STATE, f"row {row_uuid} is {row['_state']}; only failed rows can be "
                         "re-queued or discarded")
    locked = cur.execute("SELECT reason FROM ferry.log_exceptions WHERE schema_id = %s AND seq = %s "
                         "AND requeued_at IS NULL FOR UPDATE", (schema.id, row["_seq"])).fetchone()
    if locked is None:
        raise FerryError(errors.CONSOLE_ROW_STATE, f"row {row_uuid} was re-queued meanwhile")
    return row


def requeue(db: StagingDatabase, schema: Schema, row_uuid: uuid.UUID, operator: str, note: str | None) -> None:
    """Stage a failed row again as a new row with its UUID (the next sync applies it) and record who did it; one
    transaction. The row's columns come from the log, or from its exception once retention dropped it."""
    table = table_ident(schema)
    names = sql.SQL(", ").join(sql.Identifier(n) for n in ("_uuid", "_request_id", "_op", "_key", "_present",
                                                           *schema.attribute_names))
    with db.pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = _locked_failed_row(cur, schema, row_uuid)
        seq = row["_seq"]
        cur.execute(sql.SQL(
            "INSERT INTO {t} ({names}) SELECT {names} FROM (SELECT * FROM {t} WHERE _seq = %(seq)s UNION ALL "
            "SELECT (jsonb_populate_record(NULL::{t}, e.payload)).* FROM ferry.log_exceptions e "
            "WHERE e.schema_id = %(schema)s AND e.seq = %(seq)s AND e.payload IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM {t} WHERE _seq = %(seq)s)) src").format(t=table, names=names),
            {"seq": seq, "schema": schema.id})
        if cur.rowcount != 1:
            raise FerryError(errors.CONSOLE_ROW_STATE, f"row {row_uuid}: its data is gone; it can only be discarded")
        cur.execute("UPDATE ferry.log_exceptions SET requeued_at = clock_timestamp() WHERE schema_id = %s "
                    "AND seq = %s", (schema.id, seq))
        cur.execute("INSERT INTO ferry.row_actions (schema_id, row_uuid, action, operator, reason, note) "
                    "VALUES (%s, %s, 'requeue', %s, %s, %s)", (schema.id, row_uuid, operator, row["_reason"], note))


def discard(db: StagingDatabase, schema: Schema, row_uuid: uuid.UUID, operator: str, note: str | None) -> None:
    """Mark a failed row discarded: the row itself stays `failed` and untouched (never purged), the action is kept."""
    with db.pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = _locked_failed_row(cur, schema, row_uuid)
        last = cur.execute("SELECT action FROM ferry.row_actions WHERE row_uuid = %s ORDER BY at DESC, id DESC "
                           "LIMIT 1", (row_uuid,)).fetchone()
        if last is not None and last["action"] == "discard":
            raise FerryError(errors.CONSOLE_ROW_STATE, f"row {row_uuid} is already discarded")
        cur.execute("INSERT INTO ferry.row_actions (schema_id, row_uuid, action, operator, reason, note) "
                    "VALUES (%s, %s, 'discard', %s, %s, %s)", (schema.id, row_uuid, operator, row["_reason"], note))


@dataclass
class Event:
    """One step in a record's history."""

    at: dt.datetime | None
    what: str
    detail: str = ""
    link: str | None = None


@dataclass
class RecordHistory:
    """A row, the call it came from, and what happened to it."""

    row: RowView
    request: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


def record_history(db: StagingDatabase, row_uuid: uuid.UUID) -> RecordHistory | None:
    """Received, claimed (batch), applied / skipped / failed, and every console action, in time order."""
    row = find_row(db, row_uuid)
    if row is None:
        return None
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        request = cur.execute("SELECT * FROM ferry.requests WHERE id = %s", (row.request_id,)).fetchone()
        actions = cur.execute("SELECT * FROM ferry.row_actions WHERE row_uuid = %s ORDER BY at, id",
                              (row_uuid,)).fetchall()
        run_row = None
        if row.batch_id is not None:
            moment = row.done_at
            if moment is not None:
                run_row = cur.execute(
                    "SELECT id, started_at FROM ferry.workflow_runs WHERE workflow = %s AND schema_id = %s "
                    "AND started_at <= %s AND (ended_at IS NULL OR ended_at >= %s) ORDER BY started_at DESC "
                    "LIMIT 1", (WORKFLOW, row.schema_id, moment, moment)).fetchone()
    who = f" by {request['operator']}" if request and request.get("operator") else ""
    events = [Event(row.received_at, "received",
                    f"{row.operation} in call {row.request_id}{who}", f"/console/lookup?q={row.request_id}")]
    for action in actions:
        text = f"{action['action']} by {action['operator']}"
        if action.get("reason"):
            text += f" (reason then: {action['reason']})"
        if action.get("note"):
            text += f"; note: {action['note']}"
        events.append(Event(action["at"], f"console {action['action']}", text))
    if row.batch_id is not None:
        run_link = f"/console/runs/{run_row['id']}" if run_row else None
        when = run_row["started_at"] if run_row else None
        events.append(Event(when, "claimed", f"batch {row.batch_id}", run_link))
    if row.state != "staged":
        detail = row.reason or ""
        events.append(Event(row.done_at, row.state if row.state != "synced" else "applied", detail))
    else:
        events.append(Event(None, "waiting", "staged, not yet synced"))
    events.sort(key=lambda event: (event.at is None, event.at or now()))
    return RecordHistory(row=row, request=request, events=events, actions=actions)


def request_history(db: StagingDatabase, request_id: uuid.UUID) -> dict[str, Any] | None:
    """A call and each of its rows; or a script run's calls (`ferry.requests.run_id`) and their rows, call after
    call (`schemas` lists the schemas the caller must be able to read)."""
    with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        head = cur.execute("SELECT * FROM ferry.requests WHERE id = %s", (request_id,)).fetchone()
        calls = [head] if head is not None else run_calls(cur, request_id)
        if not calls:
            return None
        found: list[RowView] = []
        for schema_id, ids in calls_by_schema(calls):
            schema = db.registry.get(schema_id)
            if schema is None or not schema.staged:
                continue
            query = _with_actions(schema, sql.SQL("t._request_id = ANY(%s)"),
                                  sql.SQL("ORDER BY r._seq LIMIT {}").format(sql.Literal(REQUEST_ROW_LIMIT)))
            found += [_row_view(schema, row) for row in current_rows(cur.execute(query, (ids,)))]
    schemas = list(dict.fromkeys(call["schema_id"] for call in calls))
    if head is not None:
        return {**head, "rows": found, "schemas": schemas, "run": False}
    rows = in_call_order(calls, found, lambda row: row.request_id)[:REQUEST_ROW_LIMIT]
    return {**run_head(request_id, calls), "rows": rows, "schemas": schemas, "run": True}


REQUEST_ROW_LIMIT = 1000  # rows a call's (or a run's) page lists


@dataclass
class ServicesView:
    """Services with their subscriber counts (warehouse) and subscription requests still staged."""

    services: list[dict[str, Any]]
    note: str | None = None


def services_view(db: StagingDatabase, warehouse: Callable[[], Any]) -> ServicesView | None:
    """None when this build has no `ferry.subscriptions` (the page says so)."""
    try:
        module = importlib.import_module("ferry.subscriptions.services")
    except ImportError:
        return None
    listed = module.all_services(db.pool)
    note = None
    subscribers: dict[str, int] = {}
    try:
        rows = warehouse().select('SELECT "serviceName", count(*) FROM "nms_subscription" GROUP BY "serviceName"', [])
        subscribers = {str(name): int(count) for name, count in rows}
    except Exception:  # no sync has created the warehouse table yet
        note = "No subscription has reached the warehouse yet."
    pending: dict[str, int] = {}
    schema = db.registry.get("nms:subscription")
    if schema is not None and schema.staged and schema.attribute("serviceName") is not None:
        query = sql.SQL('SELECT "serviceName", count(*) FROM {t} WHERE _seq > %s GROUP BY 1').format(
            t=table_ident(schema))
        with db.pool.connection() as conn:
            applied = outcomes.applied_horizon(conn, schema.id)
            pending = {str(name): int(count) for name, count in conn.execute(query, (applied,))}
    return ServicesView([{"name": service.name, "label": service.label, "channel": service.channel_name,
                          "disabled": service.disabled, "subscribers": subscribers.get(service.name, 0),
                          "pending": pending.get(service.name, 0)} for service in listed], note)
