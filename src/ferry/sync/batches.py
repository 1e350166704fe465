"""Staging side of a sync: the per-schema lock, and reading a batch (a `_seq` range of the log) as Arrow."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.staging.ddl import table_ident

if TYPE_CHECKING:
    from ferry.staging.database import StagingDatabase

_LOCK_CLASS = 0x46455253  # "FERS": advisory locks of the sync, one per schema (objid = hashtext(schema id)).
SCHEMA_LOCK_CLASS = _LOCK_CLASS  # what `ferry backup` takes for every schema at once


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
        # Per schema id: the attributes the last batch carried (the next batch's first guess), and Arrow bytes per
        # row seen (so a batch's row limit stays under the byte bound instead of reading rows it then drops).
        self._carried: dict[str, tuple[str, ...]] = {}
        self._row_bytes: dict[str, float] = {}

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

    def read(self, schema: Schema, after: int, upto: int, max_rows: int, max_bytes: int, *,
             every_column: bool = False) -> Batch | None:
        """The next batch after `_seq` `after`, at most up to `upto` (a proven horizon), bounded by rows and by the
        Arrow bytes of what it holds (the first row always comes, whatever its size). None when the range holds
        no row.

        The batch holds the log's own columns, `id` and the attributes some row of it carries (in `_present` or
        `_key`), unless `every_column`: a call's rows carry a few attributes of a wide schema, and an attribute no
        row carries is neither read nor merged.
        """
        if upto <= after:
            return None
        names = schema.attribute_names if every_column else self._guess(schema)
        per_row = self._row_bytes.get(schema.id)
        limit = max_rows if per_row is None else max(1, min(max_rows, int(max_bytes / per_row) + 1))
        # One statement, values inlined (ADBC streams a statement without parameters as a binary COPY; they are
        # integers): an index scan of the range in `_seq` order.
        query = (f"SELECT {_columns(names)} FROM {table_ident(schema).as_string(None)} "  # noqa: S608
                 f"WHERE _seq > {int(after)} AND _seq <= {int(upto)} ORDER BY _seq LIMIT {int(limit)}")
        rows, full = self._fetch_bounded(query, max_bytes)
        if rows.num_rows == 0:
            return None
        rows, carried = _decode_lists(rows)
        if not every_column:
            rows = self._carry(schema, names, rows, carried)
        self._row_bytes[schema.id] = max(1.0, rows.nbytes / rows.num_rows)
        # The batch ends at the horizon unless a bound cut it: then at its last row.
        cut = full or rows.num_rows >= limit
        last = int(rows.column("_seq")[-1].as_py()) if cut else int(upto)
        return Batch(after + 1, last, rows)

    def _guess(self, schema: Schema) -> tuple[str, ...]:
        known = set(schema.attribute_names)
        return tuple(name for name in self._carried.get(schema.id, (ID_ATTRIBUTE,)) if name in known)

    def _carry(self, schema: Schema, read: tuple[str, ...], rows: pa.Table, carried: set[str]) -> pa.Table:
        """`rows` with exactly the attributes they carry (`carried`, the names in their `_present` or `_key`, and
        `id`), in schema order: the ones read but carried by no row dropped, the ones carried but not read (the
        guess was short) read for the same rows."""
        carried = carried | {ID_ATTRIBUTE}
        names = tuple(name for name in schema.attribute_names if name in carried)
        self._carried[schema.id] = names
        if names == read:
            return rows
        missing = [name for name in names if name not in read]
        if missing:
            # The log below the horizon never changes: the same `_seq` range holds the same rows, in order.
            first, last = int(rows.column("_seq")[0].as_py()), int(rows.column("_seq")[-1].as_py())
            quoted = ", ".join(sql.Identifier(n).as_string(None) for n in missing)
            more = self._fetch(f"SELECT {quoted} FROM {table_ident(schema).as_string(None)} "  # noqa: S608
                               f"WHERE _seq >= {first} AND _seq <= {last} ORDER BY _seq")
            if more.num_rows != rows.num_rows:
                raise RuntimeError(f"{schema.id}: the log's rows {first}..{last} changed while being read")
            for name in missing:
                rows = rows.append_column(name, more.column(name))
        return rows.select([*_HEAD, *names])

    def _fetch_bounded(self, query: str, max_bytes: int) -> tuple[pa.Table, bool]:
        """The query's rows up to the one that reaches `max_bytes` of Arrow data (the first always comes), and
        whether that bound cut it."""
        try:
            return self._stream(query, max_bytes)
        except adbc.OperationalError:
            # A kept connection may have died since its last run (staging restarted): reading is idempotent, so
            # read once more on a new one; a second failure is the run's error.
            self.close()
            self._conn = self._connect()
            return self._stream(query, max_bytes)

    def _stream(self, query: str, max_bytes: int) -> tuple[pa.Table, bool]:
        cur = self._conn.cursor()
        try:
            cur.execute(query)
            reader = cur.fetch_record_batch()
            kept: list[pa.RecordBatch] = []
            size = 0
            full = False
            for part in reader:
                if part.num_rows == 0:
                    continue
                if size + part.nbytes >= max_bytes:
                    # Keep this part's rows up to the one crossing the bound (by its average row size); the rest of
                    # the stream is dropped with the cursor.
                    room = max(0, max_bytes - size)
                    take = min(part.num_rows, room * part.num_rows // max(1, part.nbytes) + 1)
                    kept.append(part.slice(0, take))
                    full = True
                    break
                kept.append(part)
                size += part.nbytes
            schema = reader.schema
        finally:
            cur.close()
        return _plain(pa.Table.from_batches(kept, schema=schema)), full

    def _fetch(self, query: str) -> pa.Table:
        try:
            return self._fetch_once(query)
        except adbc.OperationalError:
            self.close()
            self._conn = self._connect()
            return self._fetch_once(query)

    def _fetch_once(self, query: str) -> pa.Table:
        cur = self._conn.cursor()
        try:
            cur.execute(query)
            result: pa.Table = cur.fetch_arrow_table()
        finally:
            cur.close()
        return _plain(result)

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
        self._warming: threading.Event | None = None

    def warm(self) -> None:
        """Open a reader on a thread of its own unless one is idle: a run's first round trips (run row, lock,
        ledger, horizon) hide the connect, which a fresh process or a pool emptied by an error pays."""
        with self._lock:
            if self._idle or self._warming is not None or self._closed:
                return
            warming = self._warming = threading.Event()
        threading.Thread(target=self._open, args=(warming,), name="ferry-read-warm", daemon=True).start()

    def _open(self, warming: threading.Event) -> None:
        reader: BatchReader | None = None
        try:
            with contextlib.suppress(Exception):  # a failed connect: the run's own one reports it
                reader = BatchReader(self._conninfo)
        finally:
            with self._lock:
                if reader is not None and not self._closed:
                    self._idle.append(reader)
                    reader = None
                self._warming = None
            warming.set()
            if reader is not None:
                reader.close()

    @contextmanager
    def reader(self) -> Iterator[BatchReader]:
        """An idle reader (or the one being opened) or a new one; back to the pool after a clean use, closed after
        an error."""
        with self._lock:
            reader = self._idle.pop() if self._idle else None
            warming = self._warming
        if reader is None and warming is not None:
            warming.wait()
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


_HEAD = ("_seq", "_uuid", "_op", "_key", "_present")


def _columns(names: Sequence[str]) -> str:
    # The columns the sync reads, in this order. `_key` and `_present` come as their text form: ADBC turns a text[]
    # cell into a list of strings at ~0.5 µs per row each, while a string costs it next to nothing, and the lists
    # repeat from row to row (a call's rows share them), so `_decode_lists` parses each distinct one once.
    quoted = "".join(", " + sql.Identifier(n).as_string(None) for n in names)
    return f"_seq, _uuid::text AS _uuid, _op, _key::text AS _key, _present::text AS _present{quoted}"


_LISTS = ("_key", "_present")
_TEXT_LIST = pa.list_(pa.string())


def _decode_lists(rows: pa.Table) -> tuple[pa.Table, set[str]]:
    """`rows` with `_key` and `_present`, read as PostgreSQL array text, as lists of strings (each distinct text
    parsed once); and every name those lists hold."""
    names: set[str] = set()
    for column in _LISTS:
        lists, found = _text_lists(rows.column(column).combine_chunks())
        names.update(found)
        rows = rows.set_column(rows.schema.get_field_index(column), pa.field(column, _TEXT_LIST), lists)
    return rows, names


def _text_lists(text: pa.Array) -> tuple[pa.Array, set[str]]:
    """Array texts as lists of strings, and the names they hold."""
    encoded = text.dictionary_encode()
    distinct = [None if value is None else parse_text_array(value) for value in encoded.dictionary.to_pylist()]
    names = {name for found in distinct for name in found or () if name}
    return pa.array(distinct, _TEXT_LIST).take(encoded.indices), names


def parse_text_array(text: str) -> list[str | None]:
    """The elements of a one-dimensional PostgreSQL array in its text form (`{a,"b c",NULL}`), as array_out writes
    it: an element is quoted when it holds a special character, with `\\` before `"` and `\\`."""
    if text.startswith("["):  # a lower bound other than 1 (`[0:1]={a,b}`): never written by ferry, still read
        text = text[text.index("=") + 1:]
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not a one-dimensional array: {text!r}")
    body = text[1:-1]
    items: list[str | None] = []
    if not body:
        return items
    i, end = 0, len(body)
    while True:
        if body[i] == '"':
            i += 1
            chars: list[str] = []
            while body[i] != '"':
                if body[i] == "\\":
                    i += 1
                chars.append(body[i])
                i += 1
            items.append("".join(chars))
            i += 1
        else:
            stop = body.find(",", i)
            stop = end if stop < 0 else stop
            word = body[i:stop]
            if word.startswith("{"):
                raise ValueError(f"not a one-dimensional array: {text!r}")
            items.append(None if word == "NULL" else word)
            i = stop
        if i >= end:
            return items
        if body[i] != ",":
            raise ValueError(f"malformed array text: {text!r}")
        i += 1


def _plain(table: pa.Table) -> pa.Table:
    # Drop ADBC's per-field metadata so tables compare and concatenate cleanly.
    return table.cast(pa.schema([pa.field(f.name, f.type) for f in table.schema]))
