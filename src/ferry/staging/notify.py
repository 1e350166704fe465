"""A NOTIFY when rows are staged, for the continuous sync (`FERRY_SYNC_INTERVAL=0`).

Each staging table carries a statement-level `AFTER INSERT` trigger calling `ferry.notify_staged(schema id)`
(migration 0065): one notification per statement (a 1,000-row COPY costs one), sent by PostgreSQL only when the
transaction commits, so a listener is woken only for rows it can read. On a partitioned table the trigger sits on
the parent, which fires it for every insert routed through the parent.

A session that sets `ferry.notify_staged` to `after` (`AFTER_COMMIT`) is skipped by the trigger and notifies on its
own once it has committed (`Notifier`): a transaction that notifies takes a database-wide lock at commit and holds
it across its WAL flush, so concurrent notifying commits run one at a time and never share a flush. The group-commit
writers do that; a notification lost on the way (a broken connection) only delays a run to the fallback poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import sql

CHANNEL = "ferry_staged"
TRIGGER = "ferry_notify_staged"
# `SELECT set_config(SETTING, AFTER_COMMIT, false)`: this session's inserts notify through a `Notifier`.
SETTING = "ferry.notify_staged"
AFTER_COMMIT = "after"

log = logging.getLogger(__name__)


def install(conn: psycopg.Connection, table: sql.Composable, schema_id: str) -> bool:
    """Give `table` its notify trigger unless it has it; returns True when it was created.

    Checked first because CREATE TRIGGER locks the table against inserts, even when nothing changes.
    """
    regclass = table.as_string(conn)
    row = conn.execute("SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                       (regclass, TRIGGER)).fetchone()
    if row is not None:
        return False
    conn.execute(sql.SQL("CREATE TRIGGER {} AFTER INSERT ON {} FOR EACH STATEMENT "
                         "EXECUTE FUNCTION ferry.notify_staged({})").format(
        sql.Identifier(TRIGGER), table, sql.Literal(schema_id)))
    return True


def install_all(conn: psycopg.Connection) -> list[str]:
    """Give every staged schema's table its trigger (tables made before it, or rebuilt by a migration)."""
    from ferry.staging.ddl import STAGING_SCHEMA

    rows = conn.execute(
        "SELECT s.id, s.stg_table FROM ferry.schemas s "
        "WHERE s.staged AND s.stg_table IS NOT NULL AND to_regclass(format('%%I.%%I', %s::text, s.stg_table)) "
        "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgname = %s "
        "AND t.tgrelid = to_regclass(format('%%I.%%I', %s::text, s.stg_table)))",
        (STAGING_SCHEMA, TRIGGER, STAGING_SCHEMA)).fetchall()
    done = []
    for schema_id, table in rows:
        if install(conn, sql.Identifier(STAGING_SCHEMA, table), schema_id):
            done.append(schema_id)
    return done


class Notifier:
    """A thread sending `ferry_staged` for the schemas other threads committed rows of (`notify`), on its own
    connection: no committer waits for it, and a burst of commits costs one notification per schema every `every`
    seconds (the first of a quiet spell goes at once)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], every: float = 0.005) -> None:
        self._connect = connect
        self._every = every
        self._conn: psycopg.Connection[Any] | None = None
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.sent = 0

    def start(self) -> None:
        """Start the sending thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="ferry-notifier", daemon=True)
            self._thread.start()

    def notify(self, schema_ids: Iterable[str]) -> None:
        """Ask for a notification of each schema (rows of it are committed); returns at once."""
        with self._cond:
            idle = not self._pending
            self._pending.update(schema_ids)
            if idle and self._pending:
                self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is pending, then stop."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                schema_ids, self._pending = self._pending, set()
                stopping = self._stopping
            if schema_ids:
                self._send(sorted(schema_ids))
            if stopping and not schema_ids:
                break
            if not stopping:
                # What is committed meanwhile goes in the next notification: one per burst, not one per group.
                time.sleep(self._every)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _send(self, schema_ids: list[str]) -> None:
        # Its own transaction, committed without waiting for the WAL flush: it carries no data (the rows it
        # announces are durable already), so it holds the notify lock only briefly.
        statement = sql.SQL("BEGIN; SET LOCAL synchronous_commit = off; SELECT {}; COMMIT").format(
            sql.SQL(", ").join(sql.SQL("pg_notify({}, {})").format(sql.Literal(CHANNEL), sql.Literal(schema_id))
                               for schema_id in schema_ids))
        for attempt in (1, 2):  # a connection broken since the last send is replaced once
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                self._conn.execute(statement)
                self.sent += 1
                return
            except Exception as exc:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                self._conn = None
                if attempt == 2:
                    log.warning("could not notify %s of staged rows (%s); a continuous sync finds them at its "
                                "next poll", ", ".join(schema_ids), str(exc).strip() or type(exc).__name__)
