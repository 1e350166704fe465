"""A NOTIFY when rows are staged, for the continuous sync (`FERRY_SYNC_INTERVAL=0`).

Each staging table carries a statement-level `AFTER INSERT` trigger calling `ferry.notify_staged(schema id)`
(migration 0065): one notification per statement (a 1,000-row COPY costs one), sent by PostgreSQL only when the
transaction commits, so a listener is woken only for rows it can read. On a partitioned table the trigger sits on
the parent, which fires it for every insert routed through the parent.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

CHANNEL = "ferry_staged"
TRIGGER = "ferry_notify_staged"


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
