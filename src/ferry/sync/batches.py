"""Staging side of a sync: the per-schema lock, and reading a batch (a `_seq` range of the log) as Arrow."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ferry.schema.model import Schema
from ferry.staging.ddl import table_ident

if TYPE_CHECKING:
    from ferry.staging.database import StagingDatabase

_LOCK_CLASS = 0x46455253  # "FERS": advisory locks of the sync, one per schema (objid = hashtext(schema id)).


@dataclass(frozen=True)
class Batch:
    """Rows of the log with `first_seq <= _seq <= last_seq` (the range may hold gaps), in `_seq` order."""

    first_seq: int
    last_seq: int
    rows: pa.Table


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


def adbc_uri(conninfo: str) -> str:
    """A libpq URI for ADBC from whatever psycopg accepts (URI or `key=value` string)."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        return conninfo
    return "postgresql://?" + urlencode(conninfo_to_dict(conninfo))


class BatchReader:
    """Reads batches from the log as Arrow tables over one binary (ADBC) connection: one pass, no write."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: Any = self._connect()

    def _connect(self) -> Any:
        conn = adbc.connect(adbc_uri(self._conninfo), autocommit=True)
        cur = conn.cursor()
        try:
            # This connection only reads `_seq` ranges: always the primary key's ordered scan, even on partitions
            # no ANALYZE has seen yet (a bitmap scan and a sort of the whole range would spill to disk).
            cur.execute("SET enable_bitmapscan = off")
            cur.execute("SET enable_sort = off")
        finally:
            cur.close()
        return conn

    def read(self, schema: Schema, after: int, upto: int, max_rows: int, max_bytes: int) -> Batch | None:
        """The next batch after `_seq` `after`, at most up to `upto` (a proven horizon), bounded by rows and bytes
        (the first row always comes, whatever its size). None when the range holds no row."""
        if upto <= after:
            return None
        # One statement, values inlined (ADBC streams a statement without parameters as a binary COPY; they are
        # integers). An index scan walks the range in `_seq` order; the running size of the rows (a window that
        # streams, so the LIMIT stops the scan) keeps those that start under `max_bytes`: the first row always
        # comes, and the batch overshoots the bound by one row at most.
        query = (f"SELECT {_names(schema)}, __run FROM (SELECT {_columns(schema)}, pg_column_size(t.*) AS __size, "  # noqa: S608
                 "sum(pg_column_size(t.*)) OVER (ORDER BY _seq ROWS UNBOUNDED PRECEDING) AS __run "
                 f"FROM {table_ident(schema).as_string(None)} t WHERE _seq > {int(after)} AND _seq <= {int(upto)} "
                 f"ORDER BY _seq LIMIT {int(max_rows)}) b WHERE __run - __size < {int(max_bytes)} ORDER BY _seq")
        try:
            result = self._fetch(query)
        except adbc.OperationalError:
            # A kept connection may have died since its last run (staging restarted): reading is idempotent, so
            # read once more on a new one; a second failure is the run's error.
            self.close()
            self._conn = self._connect()
            result = self._fetch(query)
        if result.num_rows == 0:
            return None
        # The batch ends at the horizon unless a bound cut it: then at its last row.
        cut = result.num_rows >= max_rows or int(result.column("__run")[-1].as_py()) >= max_bytes
        last = int(result.column("_seq")[-1].as_py()) if cut else int(upto)
        return Batch(after + 1, last, _plain(result.drop_columns(["__run"])))

    def _fetch(self, query: str) -> pa.Table:
        cur = self._conn.cursor()
        try:
            cur.execute(query)
            result: pa.Table = cur.fetch_arrow_table()
        finally:
            cur.close()
        return result

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self._conn.close()


class ReaderPool:
    """Idle readers of one staging database, kept between runs: opening an ADBC connection costs ~50 ms, most of
    a small run's time (continuous mode runs often)."""

    def __init__(self, conninfo: str, keep: int = 4) -> None:
        self._conninfo = conninfo
        self._keep = keep
        self._idle: list[BatchReader] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def reader(self) -> Iterator[BatchReader]:
        """An idle reader or a new one; back to the pool after a clean use, closed after an error."""
        with self._lock:
            reader = self._idle.pop() if self._idle else None
        if reader is None:
            reader = BatchReader(self._conninfo)
        clean = False
        try:
            yield reader
            clean = True
        finally:
            with self._lock:
                keep = clean and not self._closed and len(self._idle) < self._keep
                if keep:
                    self._idle.append(reader)
            if not keep:
                reader.close()

    def close(self) -> None:
        """Close the idle readers; readers in use close when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.close()


_pools: weakref.WeakKeyDictionary[StagingDatabase, ReaderPool] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def readers(db: StagingDatabase) -> ReaderPool:
    """The reader pool of `db`, closed with it."""
    with _pools_lock:
        pool = _pools.get(db)
        if pool is None:
            pool = _pools[db] = ReaderPool(db.url)
            db.on_close(pool.close)
        return pool


def _columns(schema: Schema) -> str:
    # The columns the sync reads, in this order.
    names = ", ".join(sql.Identifier(n).as_string(None) for n in schema.attribute_names)
    return f"_seq, _uuid::text AS _uuid, _op, _key, _present, {names}"


def _names(schema: Schema) -> str:
    # The same columns, by name (the outer query of `read`).
    return ", ".join(sql.Identifier(n).as_string(None) for n in ("_seq", "_uuid", "_op", "_key", "_present",
                                                                  *schema.attribute_names))


def _plain(table: pa.Table) -> pa.Table:
    # Drop ADBC's per-field metadata so tables compare and concatenate cleanly.
    return table.cast(pa.schema([pa.field(f.name, f.type) for f in table.schema]))
