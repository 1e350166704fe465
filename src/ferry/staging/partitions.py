"""The staging log's partitions: ranges of `_seq`, made ahead of the sequence, dropped whole by retention.

Partitioned by `_seq` range rather than by day: the primary key (`_seq`) contains the partition key as PostgreSQL
requires, a batch read (a `_seq` range) touches one or two partitions, and "every row of this partition is
applied" is one comparison of its upper bound with the applied horizon. A day partition would need
`(_seq, day)` keys and a scan to learn its highest `_seq`. The DEFAULT partition only catches rows if the sequence
outran the partitions made ahead (they are made at schema apply, at every sync run and purge); the next `ensure`
moves such rows into their range partition.
"""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import sql

from ferry.schema.model import Schema
from ferry.staging.ddl import STAGING_SCHEMA, staging_table_name

# `_seq` values per partition of a new table (later partitions take the size of the newest one).
SPAN = 1_000_000
# Partitions kept ready above the sequence's current value.
AHEAD = 2
# DDL on the log waits at most this long for a lock (never queue ingest behind a long transaction).
LOCK_TIMEOUT = "200ms"
log = logging.getLogger(__name__)
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def default_name(schema: Schema) -> str:
    """The DEFAULT partition of the schema's log."""
    return f"{staging_table_name(schema)}__default"


def partitions(conn: psycopg.Connection, schema: Schema) -> list[tuple[str, int, int]]:
    """(name, low, high) of every range partition, lowest first (`low <= _seq < high`)."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass", (f"{STAGING_SCHEMA}.{staging_table_name(schema)}",)).fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(str(bound or ""))
        if match:
            found.append((str(name), int(match.group(1)), int(match.group(2))))
    return sorted(found, key=lambda item: item[1])


def is_partitioned(conn: psycopg.Connection, schema: Schema) -> bool:
    """True when the schema's staging table is a partitioned log."""
    row = conn.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)",
                       (f"{STAGING_SCHEMA}.{staging_table_name(schema)}",)).fetchone()
    return bool(row and row[0])


def ensure(conn: psycopg.Connection, schema: Schema, *, ahead: int = AHEAD) -> list[str]:
    """Make range partitions up to `ahead` spans above the sequence's value; returns the names made.

    Runs in the caller's transaction if one is open, else in its own.
    """
    if not is_partitioned(conn, schema):
        return []
    made: list[str] = []
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            existing = partitions(conn, schema)
            row = conn.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, '_seq')::regclass)",
                               (f"{STAGING_SCHEMA}.{staging_table_name(schema)}",)).fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            # The newest partition made here sets the span (an upgraded table's one big partition does not).
            newest = existing[-1] if existing else None
            span = newest[2] - newest[1] if newest and newest[0].endswith(f"__p{newest[1]}") else SPAN
            high = newest[2] if newest else 1
            while high <= current + ahead * span:
                made.append(_attach(conn, schema, high, high + span))
                high += span
    except psycopg.errors.LockNotAvailable:
        # A long transaction holds the log: try again at the next run (the DEFAULT partition catches rows meanwhile).
        log.warning("%s: could not make the next staging partitions now (lock busy)", schema.id)
        return []
    return made


def _attach(conn: psycopg.Connection, schema: Schema, low: int, high: int) -> str:
    # A standalone table attached to the parent takes a lighter lock than CREATE TABLE ... PARTITION OF; rows the
    # DEFAULT partition caught in this range move in first (the attach would refuse otherwise).
    name = f"{staging_table_name(schema)}__p{low}"
    parent = sql.Identifier(STAGING_SCHEMA, staging_table_name(schema))
    part = sql.Identifier(STAGING_SCHEMA, name)
    default = sql.Identifier(STAGING_SCHEMA, default_name(schema))
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
                         "CHECK (_seq >= {} AND _seq < {}))").format(part, parent, sql.Literal(low), sql.Literal(high)))
    conn.execute(sql.SQL("WITH moved AS (DELETE FROM {d} WHERE _seq >= %s AND _seq < %s RETURNING *) "
                         "INSERT INTO {p} SELECT * FROM moved").format(d=default, p=part), (low, high))
    conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
        parent, part, sql.Literal(low), sql.Literal(high)))
    return name


def drop(conn: psycopg.Connection, schema: Schema, name: str) -> None:
    """Drop one partition (waiting at most LOCK_TIMEOUT for its lock)."""
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(STAGING_SCHEMA, name)))


def attach_legacy(conn: psycopg.Connection, schema: Schema, last: int) -> None:
    """Make an upgraded (plain) staging table the first partition, `_seq` 1..`last`, of a new partitioned log."""
    name = staging_table_name(schema)
    legacy = f"{name}__legacy"
    parent = sql.Identifier(STAGING_SCHEMA, name)
    part = sql.Identifier(STAGING_SCHEMA, legacy)
    sequence = sql.Identifier(STAGING_SCHEMA, f"{name}__seq")
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(parent, sql.Identifier(legacy)))
    for (index,) in conn.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                                 (f"{STAGING_SCHEMA}.{legacy}",)).fetchall():
        short = str(index).split(".")[-1].strip('"')
        conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier(STAGING_SCHEMA, short), sql.Identifier(f"{short[:50]}__legacy")))
    # Same columns as the old table (removed attributes' columns included), so it can be attached.
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                         "PARTITION BY RANGE (_seq)").format(parent, part))
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (_seq)").format(parent))
    conn.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY {}._seq").format(sequence, parent))
    conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM (1) TO ({})").format(
        parent, part, sql.Literal(max(last, 0) + 1)))
    conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
        sql.Identifier(STAGING_SCHEMA, default_name(schema)), parent))
    for column in ("_uuid", "_request_id"):
        label = "uuid" if column == "_uuid" else "request"
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier(f"{name}_{label}"), parent, sql.Identifier(column)))
