"""Workflows an operator added: a stored script, its schedule, the operator it runs as, and `instance.vars`.

Rows live in `ferry.script_workflows`. A scheduler claims a tick by moving `next_run_at` forward with a
compare-and-set, so of several servers sharing staging exactly one runs each tick.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.workflows.schedule import Schedule, parse_cron

# Campaign internal names: a letter, then letters, digits or underscores.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Names of ferry's own technical workflows, refused as names of added ones.
RESERVED = frozenset({"ffdaReplicateStagingData", "ferryPurgeStagingData"})
DEFAULT_TIME_LIMIT = 900.0
MAX_SCRIPT_BYTES = 1024 * 1024

_COLUMNS = sql.SQL("name, script, script_source, script_version, script_sha256, every_seconds, cron, operator_login, "
                    "time_limit, enabled, next_run_at, instance_vars, created_at, updated_at")


@dataclass(frozen=True)
class Workflow:
    """One added workflow as stored."""

    name: str
    script: str
    script_source: str
    script_version: int
    script_sha256: str
    schedule: Schedule
    operator_login: str | None
    time_limit: float
    enabled: bool
    next_run_at: dt.datetime | None
    instance_vars: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    def view(self) -> dict[str, Any]:
        """The JSON-ready description (`--json`, REST); the script's text is left out."""
        return {"name": self.name, "schedule": self.schedule.describe(), "everySeconds": self.schedule.every_seconds,
                "cron": self.schedule.cron, "operator": self.operator_login, "timeLimit": self.time_limit,
                "enabled": self.enabled, "nextRunAt": _iso(self.next_run_at), "scriptVersion": self.script_version,
                "scriptSha256": self.script_sha256, "scriptSource": self.script_source,
                "createdAt": _iso(self.created_at), "updatedAt": _iso(self.updated_at)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _workflow(row: tuple[Any, ...]) -> Workflow:
    (name, script, source, version, sha, every, cron, login, limit, enabled, next_run, instance_vars, created,
     updated) = row
    return Workflow(name, script, source, int(version), sha, Schedule(every, cron), login, float(limit),
                    bool(enabled), next_run, dict(instance_vars or {}), created, updated)


def check_name(name: str) -> str:
    """The name itself, or FRY-140003 when it is not a Campaign internal name."""
    if not _NAME.match(name):
        raise FerryError(errors.BAD_WORKFLOW, f"workflow name {name!r} must start with a letter and hold only "
                         "letters, digits and underscores (at most 64), like a Campaign internal name")
    if name in RESERVED:
        raise FerryError(errors.BAD_WORKFLOW, f"{name} is one of ferry's own workflows; choose another name")
    return name


def add(pool: ConnectionPool, name: str, script: str, *, schedule: Schedule, source: str = "",
        operator_login: str | None = None, time_limit: float = DEFAULT_TIME_LIMIT, replace: bool = False) -> Workflow:
    """Store a workflow; with `replace`, a workflow of that name gets this script (a new version if it changed),
    schedule, operator and time limit, and keeps its `instance.vars`, state and history."""
    check_name(name)
    if schedule.cron is not None:
        parse_cron(schedule.cron)
    if len(script.encode("utf-8")) > MAX_SCRIPT_BYTES:
        raise FerryError(errors.BAD_WORKFLOW, f"the script is larger than {MAX_SCRIPT_BYTES // 1024} KiB")
    if not time_limit > 0:
        raise FerryError(errors.BAD_WORKFLOW, "--time-limit must be a positive number of seconds")
    sha = hashlib.sha256(script.encode("utf-8")).hexdigest()
    with pool.connection() as conn, conn.transaction():
        if operator_login is not None and conn.execute("SELECT 1 FROM ferry.operators WHERE login = %s",
                                                       (operator_login,)).fetchone() is None:
            raise FerryError(errors.UNKNOWN_OPERATOR, f"no operator {operator_login!r}: add it first "
                             f"(ferry operator add {operator_login})")
        now_row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert now_row is not None
        next_run = schedule.next_after(now_row[0])
        found = conn.execute("SELECT script_sha256, script_version, every_seconds, cron FROM ferry.script_workflows "
                             "WHERE name = %s FOR UPDATE", (name,)).fetchone()
        if found is None:
            row = conn.execute(
                sql.SQL("INSERT INTO ferry.script_workflows (name, script, script_source, script_sha256, "
                        "every_seconds, cron, operator_login, time_limit, next_run_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {}").format(_COLUMNS),
                (name, script, source, sha, schedule.every_seconds, schedule.cron, operator_login, time_limit,
                 next_run)).fetchone()
        elif not replace:
            raise FerryError(errors.WORKFLOW_EXISTS, f"workflow {name} exists; pass --replace to give it this script "
                             "and schedule (its instance.vars and history are kept)")
        else:
            old_sha, old_version, old_every, old_cron = found
            version = int(old_version) + (0 if old_sha == sha else 1)
            same_schedule = (old_every, old_cron) == (schedule.every_seconds, schedule.cron)
            row = conn.execute(
                sql.SQL("UPDATE ferry.script_workflows SET script = %s, script_source = %s, script_sha256 = %s, "
                        "script_version = %s, every_seconds = %s, cron = %s, operator_login = %s, time_limit = %s, "
                        "next_run_at = CASE WHEN %s THEN next_run_at ELSE %s END, updated_at = clock_timestamp() "
                        "WHERE name = %s RETURNING {}").format(_COLUMNS),
                (script, source, sha, version, schedule.every_seconds, schedule.cron, operator_login, time_limit,
                 same_schedule, next_run, name)).fetchone()
    assert row is not None
    return _workflow(row)


def get(pool: ConnectionPool, name: str) -> Workflow:
    """The workflow `name`; FRY-140001 when there is none."""
    with pool.connection() as conn:
        row = conn.execute(sql.SQL("SELECT {} FROM ferry.script_workflows WHERE name = %s").format(_COLUMNS),
                           (name,)).fetchone()
    if row is None:
        raise FerryError(errors.WORKFLOW_UNKNOWN, f"no workflow named {name!r} (see ferry workflow list)")
    return _workflow(row)


def list_all(pool: ConnectionPool) -> list[Workflow]:
    """Every added workflow, by name."""
    with pool.connection() as conn:
        rows = conn.execute(sql.SQL("SELECT {} FROM ferry.script_workflows ORDER BY name").format(_COLUMNS)).fetchall()
    return [_workflow(row) for row in rows]


def set_enabled(pool: ConnectionPool, name: str, enabled: bool) -> Workflow:
    """Enable or disable `name`; enabling schedules its next tick from now (ticks missed while disabled are not
    run)."""
    current = get(pool, name)
    with pool.connection() as conn:
        now_row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert now_row is not None
        next_run = current.schedule.next_after(now_row[0]) if enabled and not current.enabled else \
            current.next_run_at
        row = conn.execute(sql.SQL("UPDATE ferry.script_workflows SET enabled = %s, next_run_at = %s, "
                                   "updated_at = clock_timestamp() WHERE name = %s RETURNING {}").format(_COLUMNS),
                           (enabled, next_run, name)).fetchone()
    if row is None:
        raise FerryError(errors.WORKFLOW_UNKNOWN, f"no workflow named {name!r} (see ferry workflow list)")
    return _workflow(row)


def remove(pool: ConnectionPool, name: str) -> None:
    """Delete `name` (its past runs stay in the history until retention drops them)."""
    with pool.connection() as conn:
        cur = conn.execute("DELETE FROM ferry.script_workflows WHERE name = %s", (name,))
    if cur.rowcount != 1:
        raise FerryError(errors.WORKFLOW_UNKNOWN, f"no workflow named {name!r} (see ferry workflow list)")


def due(pool: ConnectionPool) -> list[tuple[str, dt.datetime]]:
    """Enabled workflows whose tick has come: (name, the tick as stored), oldest first."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT name, next_run_at FROM ferry.script_workflows WHERE enabled "
                            "AND next_run_at <= clock_timestamp() ORDER BY next_run_at").fetchall()
    return [(str(name), tick) for name, tick in rows]


def claim_tick(conn: Any, name: str, tick: dt.datetime) -> Workflow | None:
    """Move the tick `tick` of `name` to the next one, if nobody did yet and the workflow is still enabled; the
    workflow as claimed, or None (another server ran that tick, or it was disabled meanwhile)."""
    row = conn.execute(sql.SQL("SELECT {}, clock_timestamp() FROM ferry.script_workflows WHERE name = %s").format(
        _COLUMNS), (name,)).fetchone()
    if row is None:
        return None
    workflow, now = _workflow(row[:-1]), row[-1]
    if not workflow.enabled or workflow.next_run_at != tick:
        return None
    following = workflow.schedule.next_after(now, tick)
    cur = conn.execute("UPDATE ferry.script_workflows SET next_run_at = %s WHERE name = %s AND enabled "
                       "AND next_run_at = %s", (following, name, tick))
    return workflow if cur.rowcount == 1 else None


def save_vars(conn: Any, name: str, instance_vars: dict[str, Any], cap_bytes: int) -> None:
    """Keep `instance.vars` for the next run; FRY-140005 (nothing kept) past `cap_bytes` of JSON."""
    size = len(json.dumps(instance_vars, separators=(",", ":")).encode("utf-8"))
    if size > cap_bytes:
        raise FerryError(errors.WORKFLOW_VARS_TOO_LARGE, f"instance.vars holds {size} bytes of JSON, more than the "
                         f"{cap_bytes} a workflow may keep between runs (FERRY_WORKFLOW_VARS_BYTES); they were not "
                         "saved: keep marks and dates there, not data")
    conn.execute("UPDATE ferry.script_workflows SET instance_vars = %s WHERE name = %s",
                 (Jsonb(instance_vars), name))
