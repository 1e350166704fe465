"""Staging side of a sync: the per-schema lock, claiming a batch, reading it as Arrow, marking its rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ferry.schema.model import Schema
from ferry.staging.ddl import table_ident
from ferry.warehouse.base import BatchOutcome

_LOCK_CLASS = 0x46455253  # "FERS": advisory locks of the sync, one per schema (objid = hashtext(schema id)).


@dataclass(frozen=True)
class Claimed:
    """A batch of staged rows marked with its id, not yet marked done; its rows lie in `_seq` first..last."""

    batch_id: uuid.UUID
    first_seq: int
    rows: int
    last_seq: int | None = None  # None: claimed before the ledger kept it (the range is open-ended)


@contextmanager
def schema_lock(pool: ConnectionPool, schema_id: str, *, wait: bool) -> Iterator[bool]:
    """Hold the schema's session advisory lock (released if this process dies); yields False when busy."""
    with pool.connection() as conn:
        if wait:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, schema_id))
            got = True
        else:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, schema_id)).fetchone()
            got = bool(row and row[0])
        try:
            yield got
        finally:
            if got and not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, schema_id))


def pending_batches(pool: ConnectionPool, schema: Schema) -> list[Claimed]:
    """Batches claimed by a worker that died before marking them, oldest first."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT batch_id, first_seq, row_count, last_seq FROM ferry.sync_batches "
                            "WHERE schema_id = %s ORDER BY first_seq", (schema.id,)).fetchall()
    return [Claimed(row[0], int(row[1]), int(row[2]), None if row[3] is None else int(row[3])) for row in rows]


def high_water(pool: ConnectionPool, schema: Schema) -> int:
    """The last staged `_seq` now: a run stops there so a steady stream cannot keep it going forever."""
    with pool.connection() as conn:
        row = conn.execute(sql.SQL("SELECT coalesce(max(_seq), 0) FROM {}").format(table_ident(schema))).fetchone()
    return int(row[0]) if row else 0


def _claim_sql(schema: Schema, batch_id: uuid.UUID, max_rows: int, max_bytes: int, high: int,
               returning: str) -> str:
    # Lock the next staged rows (SKIP LOCKED), stamp them (a HOT update: no index holds `_batch_id`), record the
    # batch and its `_seq` range in `ferry.sync_batches`, all in one statement. Values are inlined (ADBC runs a
    # statement without parameters as a binary COPY); they are integers, a UUID and a quoted literal.
    return sql.SQL(
        "WITH s AS (SELECT _seq, pg_column_size(t.*) AS size FROM {t} t "
        "WHERE _state = 'staged' AND _batch_id IS NULL AND _seq <= {high} ORDER BY _seq LIMIT {rows} "
        "FOR UPDATE SKIP LOCKED), "
        "c AS (SELECT _seq, sum(size) OVER (ORDER BY _seq) AS run, min(_seq) OVER () AS first FROM s), "
        "u AS (UPDATE {t} u SET _batch_id = {batch} FROM c WHERE u._seq = c._seq "
        "AND (c.run <= {bytes} OR c._seq = c.first) RETURNING u.*), "
        "b AS (INSERT INTO ferry.sync_batches (batch_id, schema_id, first_seq, last_seq, row_count) "
        "SELECT {batch}, {schema}, min(_seq), max(_seq), count(*) FROM u HAVING count(*) > 0 "
        "RETURNING first_seq, last_seq, row_count) "
    ).format(t=table_ident(schema), high=sql.Literal(int(high)), rows=sql.Literal(int(max_rows)),
             batch=sql.Literal(str(batch_id)) + sql.SQL("::uuid"), bytes=sql.Literal(int(max_bytes)),
             schema=sql.Literal(schema.id)).as_string(None) + returning


def _range(claimed: Claimed, param: str) -> str:
    # The batch's rows by primary-key range and batch id (no index holds `_batch_id`).
    upper = "" if claimed.last_seq is None else f" AND _seq <= {int(claimed.last_seq)}"
    return f"_seq >= {int(claimed.first_seq)}{upper} AND _batch_id = {param}"


def adbc_uri(conninfo: str) -> str:
    """A libpq URI for ADBC from whatever psycopg accepts (URI or `key=value` string)."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        return conninfo
    return "postgresql://?" + urlencode(conninfo_to_dict(conninfo))


class BatchReader:
    """Reads claimed batches from staging as Arrow tables over one binary (ADBC) connection."""

    def __init__(self, conninfo: str) -> None:
        self._conn: Any = adbc.connect(adbc_uri(conninfo), autocommit=True)

    def claim(self, schema: Schema, max_rows: int, max_bytes: int, high: int) -> tuple[Claimed, pa.Table] | None:
        """`claim` and `read` in one statement (committed on its own): the claimed rows come back as the batch."""
        batch_id = uuid.uuid4()
        query = _claim_sql(schema, batch_id, max_rows, max_bytes, high,
                           f"SELECT {_columns(schema)} FROM u ORDER BY _seq")  # noqa: S608
        cur = self._conn.cursor()
        try:
            cur.execute(query)
            result: pa.Table = cur.fetch_arrow_table()
        finally:
            cur.close()
        if result.num_rows == 0:
            return None
        seqs = result.column("_seq")
        first, last = pc.min_max(seqs).as_py().values()
        return Claimed(batch_id, int(first), result.num_rows, int(last)), _plain(result)

    def read(self, schema: Schema, claimed: Claimed) -> pa.Table:
        """The batch's rows still `staged`, in `_seq` order, with the columns the sync needs."""
        table = table_ident(schema).as_string(None)
        cur = self._conn.cursor()
        try:
            cur.execute(f"SELECT {_columns(schema)} FROM {table} "  # noqa: S608
                        f"WHERE {_range(claimed, '$1::uuid')} AND _state = 'staged' ORDER BY _seq",
                        parameters=(str(claimed.batch_id),))
            result: pa.Table = cur.fetch_arrow_table()
        finally:
            cur.close()
        return _plain(result)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _columns(schema: Schema) -> str:
    # The columns the sync reads, in this order.
    names = ", ".join(sql.Identifier(n).as_string(None) for n in schema.attribute_names)
    return f"_seq, _uuid::text AS _uuid, _op, _key, _present, {names}"


def _plain(table: pa.Table) -> pa.Table:
    # Drop ADBC's per-field metadata so tables compare and concatenate cleanly.
    return table.cast(pa.schema([pa.field(f.name, f.type) for f in table.schema]))


def mark(pool: ConnectionPool, schema: Schema, claimed: Claimed, outcome: BatchOutcome) -> None:
    """Set every row of the batch to its final state, and forget the batch; one staging transaction."""
    table = table_ident(schema)
    where = sql.SQL(_range(claimed, "%(batch)s"))
    special = [(seq, "skipped", reason) for seq, reason in outcome.skipped]
    special += [(seq, "failed", error) for seq, error in outcome.failed]
    with pool.connection() as conn, conn.transaction():
        if special:
            conn.execute(
                sql.SQL("UPDATE {} t SET _state = v.state, _reason = v.reason, _done_at = now() "
                        "FROM unnest(%(seqs)s::bigint[], %(states)s::text[], %(reasons)s::text[]) "
                        "AS v(seq, state, reason) WHERE t._seq = v.seq AND t._batch_id = %(batch)s "
                        "AND t._state = 'staged'").format(table),
                {"seqs": [s[0] for s in special], "states": [s[1] for s in special],
                 "reasons": [s[2] for s in special], "batch": claimed.batch_id})
        conn.execute(sql.SQL("UPDATE {} SET _state = 'synced', _done_at = now() WHERE {} AND _state = 'staged'")
                     .format(table, where), {"batch": claimed.batch_id})
        conn.execute("DELETE FROM ferry.sync_batches WHERE batch_id = %s", (claimed.batch_id,))


def purge(conn: psycopg.Connection, schema: Schema, retention_days: float, chunk: int = 50_000) -> int:
    """Delete `synced` / `skipped` rows done longer ago than the retention; never `staged` or `failed`."""
    query = sql.SQL(
        "DELETE FROM {t} WHERE _seq IN (SELECT _seq FROM {t} WHERE _state IN ('synced', 'skipped') "
        "AND _done_at < now() - make_interval(secs => %s) LIMIT %s)"
    ).format(t=table_ident(schema))
    total = 0
    while True:
        cur = conn.execute(query, (retention_days * 86_400.0, chunk))
        total += cur.rowcount
        if cur.rowcount < chunk:
            return total
