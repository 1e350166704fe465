"""The Snowflake warehouse (`snowflake://user@account/DATABASE/SCHEMA?warehouse=…`), through snowflake-connector-python.

Each folded segment travels as Parquet: PUT into a session-temporary stage, COPY INTO a session-temporary table,
then one MERGE into the target (deletes, overlays and new records together), inside the batch's transaction with
its ledger row. DDL (which commits in Snowflake) only runs before a transaction begins. Snowflake enforces no
unique key, so keys already held by several records are refused row by row (`failed`, FRY-800010), never touched.
Queries (`select`, the "snowflake" dialect of `ferry.query`) run on the same session, never inside a transaction.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.schema.types import AttrType
from ferry.warehouse.base import BatchOutcome, ErrorKind, Hook, Identity, Span, Timeouts, Transaction, Warehouse
from ferry.warehouse.fold import distinct_keys, free_inserts
from ferry.warehouse.snowflake_merge import DELETE_FLAG, NEW_FLAG, UPDATE_FLAG, merge_sql
from ferry.warehouse.snowflake_nulls import flag_name, fold
from ferry.warehouse.snowflake_types import (
    STAMP_TYPE,
    TIMESTAMP_TYPES,
    column_type,
    null_column,
    parquet_column,
)
from ferry.warehouse.snowflake_url import SnowflakeTarget, parse_url
from ferry.warehouse.tables import LEDGER, quote, stamp_columns, table_name

STAGE = "FERRY_LOAD"
FLAGS = (DELETE_FLAG, UPDATE_FLAG, NEW_FLAG)  # created unquoted: the MERGE names them unquoted
NOW = "CURRENT_TIMESTAMP()"
# Session, token and network failures the connector reports with these error numbers: reconnect and retry.
_OUTAGE_ERRNOS = frozenset({390111, 390112, 390114, 390115, 250001, 250002, 250003, 251005, 251006})

Column = tuple[str, str, bool]  # (name, Snowflake type, quoted?)


def connector() -> Any:
    """`snowflake.connector`, imported on first use; a clear FerryError when the extra is not installed."""
    try:
        return importlib.import_module("snowflake.connector")
    except ImportError:
        raise FerryError(errors.SNOWFLAKE_MISSING, "the Snowflake warehouse needs snowflake-connector-python: "
                         "pip install 'ferry[snowflake]'") from None


def duplicate_reason(schema: Schema, key: Sequence[str], values: Sequence[Any], count: int) -> str:
    """The `failed` reason of a row whose key several warehouse records hold."""
    held = ", ".join(f"@{k}={v!r}" for k, v in zip(key, values, strict=True))
    return (f"{errors.DUPLICATED_KEY.code} duplicated key in the warehouse: {schema.id} {held} is held by {count} "
            "records; the row was not applied (see ferry doctor unicity)")


class SnowflakeWarehouse(Warehouse):
    """One connector session (autocommit; explicit BEGIN/COMMIT per batch), used by one apply at a time.

    An open transaction holds the session's lock until it commits or rolls back, so a query never runs inside it.
    """

    dialect = "snowflake"

    def __init__(self, url: str, target: SnowflakeTarget | None = None, timeouts: Timeouts | None = None) -> None:
        self._sf = connector()
        self.timeouts = timeouts or Timeouts()
        self._target = target or parse_url(url)
        self.url = self._target.display
        self._lock = threading.RLock()
        self._conn: Any = None
        self._prepared: dict[str, tuple[Column, ...]] = {}
        with self._lock:
            self._connection()

    # -- session ------------------------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        try:
            conn = self._sf.connect(**self._connect_args())
        except self._sf.errors.Error as exc:
            raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"cannot connect to Snowflake {self._target.display}: "
                             f"{_first_line(exc)}") from None
        self._conn = conn
        self._prepared = {}
        try:
            row = self._run("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()").fetchone()
            if not row or not row[0] or not row[1]:
                raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"Snowflake database or schema of "
                                 f"{self._target.display} does not exist or the role lacks USAGE on it")
            self._run(f"CREATE TABLE IF NOT EXISTS {LEDGER} (batch_id VARCHAR(36) NOT NULL, schema_id VARCHAR, "
                      "applied_at TIMESTAMP_TZ, counts VARCHAR, outcomes VARCHAR, PRIMARY KEY (batch_id))")
            self._run(f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE} FILE_FORMAT = (TYPE = PARQUET)")
        except BaseException:
            self._drop()
            raise
        return conn

    def _connect_args(self) -> dict[str, Any]:
        # Login and network bounds from the settings, unless the URL sets them.
        args = self._target.connect_args()
        t = self.timeouts
        if t.connect > 0 and "login_timeout" not in self._target.options:
            args["login_timeout"] = max(1, int(t.connect))
        if t.statement > 0 and "network_timeout" not in self._target.options:
            args["network_timeout"] = max(1, int(t.statement))
        return args

    def identity(self) -> Identity:
        """Account, database and schema: one Snowflake schema is one warehouse."""
        t = self._target
        return Identity("snowflake", f"{t.account}/{t.database}/{t.schema}".upper(), t.display)

    def _run(self, sql: str, params: Sequence[Any] | None = None, **kwargs: Any) -> Any:
        cur = self._connection().cursor()
        cur.execute(sql, params, **kwargs)
        return cur

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._prepared = {}
        if conn is not None:
            with contextlib.suppress(Exception):  # the session is being abandoned anyway
                conn.close()

    # -- Warehouse ----------------------------------------------------------------------------------------

    def ensure_table(self, schema: Schema) -> None:
        """Create the table or add the schema's new columns (Snowflake DDL, outside any transaction)."""
        columns = _target_columns(schema)
        table = quote(table_name(schema))
        with self._lock:
            try:
                self._run(f"CREATE TABLE IF NOT EXISTS {table} ("
                          + ", ".join(f"{quote(n)} {t}" for n, t in columns) + ")")
                have = {str(r[0]) for r in self._run(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = CURRENT_SCHEMA() AND table_name = %s", (table_name(schema),)).fetchall()}
                for name, kind in columns:
                    if name not in have:
                        self._run(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {kind}")
            except self._sf.errors.Error as exc:
                self._raise_unless_data(exc)
                raise
            self._prepared.pop(table_name(schema), None)

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """The ledger entry of a batch, or None."""
        with self._lock:
            try:
                row = self._run(f"SELECT outcomes FROM {LEDGER} WHERE batch_id = %s LIMIT 1",  # noqa: S608
                                (batch_id,)).fetchone()
            except self._sf.errors.Error as exc:
                self._raise_unless_data(exc)
                raise
        return None if row is None else BatchOutcome.from_json(batch_id, str(row[0]))

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """All records, as dicts (timestamps with a NULL flag: see `ferry.warehouse.snowflake_nulls`)."""
        names = [name for name, _ in _target_columns(schema)]
        stamps = {a.name for a in schema.attributes if a.type in TIMESTAMP_TYPES} | set(stamp_columns(schema))
        flags = [n for n in names if n in stamps]
        select = ", ".join([quote(n) for n in names] + [f"{quote(n)} IS NULL AS {quote(flag_name(n))}" for n in flags])
        with self._lock:
            rows = self._run(f"SELECT {select} FROM {quote(table_name(schema))}").fetchall()  # noqa: S608
        return [dict(zip(names, row, strict=True)) for row in fold([*names, *map(flag_name, flags)], rows)]

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read query (`%s` placeholders, bound by the connector) on the session, outside any transaction.

        Only a single SELECT runs (`MULTI_STATEMENT_COUNT=1` whatever the account's default). Columns named
        `<column> IS NULL` are NULL flags (`ferry.warehouse.snowflake_nulls`): folded into `<column>`, then dropped.
        """
        if not sql.lstrip().upper().startswith("SELECT"):
            raise FerryError(errors.BAD_QUERY, "the Snowflake warehouse only runs SELECT statements as queries")
        with self._lock:
            try:
                cur = self._run(sql, list(params) or None, num_statements=1)
                names = [str(d.name) for d in cur.description or ()]
                rows = cur.fetchall()
            except self._sf.errors.Error as exc:
                self._raise_unless_data(exc)
                raise
        return fold(names, rows)

    def truncate(self, schema: Schema) -> None:
        """Empty the schema's table and the ledger."""
        with self._lock:
            self._run(f"DELETE FROM {quote(table_name(schema))}")  # noqa: S608
            self._run(f"DELETE FROM {LEDGER}")  # noqa: S608

    def duplicates(self, schema: Schema, key: Sequence[str]) -> list[tuple[tuple[Any, ...], int]]:
        """Key values held by more than one record, with their counts (most duplicated first; NULLs ignored)."""
        cols = ", ".join(quote(k) for k in key)
        not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
        with self._lock:
            have = self._run("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = CURRENT_SCHEMA() "
                             "AND table_name = %s", (table_name(schema),)).fetchone()
            if not have or not have[0]:
                return []  # never synced: nothing to check
            rows = self._run(f"SELECT {cols}, COUNT(*) AS n FROM {quote(table_name(schema))} "  # noqa: S608
                             f"WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1 "
                             f"ORDER BY n DESC, {cols}").fetchall()
        return [(tuple(row[:-1]), int(row[-1])) for row in rows]

    def close(self) -> None:
        """End the session (its temporary stage and tables go with it)."""
        with self._lock:
            self._drop()

    def _begin(self) -> Transaction:
        self._lock.acquire()  # released by the transaction's commit or rollback
        try:
            self._run("BEGIN")
        except BaseException:
            self._lock.release()
            raise
        return _SnowTransaction(self)

    def _classify(self, exc: BaseException) -> ErrorKind:
        sf = self._sf.errors
        if not isinstance(exc, sf.Error):
            return "other"
        state = str(getattr(exc, "sqlstate", "") or "")
        errno = getattr(exc, "errno", None)
        if isinstance(exc, sf.ProgrammingError | sf.IntegrityError | sf.DataError) and state[:2] in ("22", "23"):
            return "data"
        if (isinstance(exc, sf.OperationalError | sf.InterfaceError) or state.startswith("08")
                or errno in _OUTAGE_ERRNOS):
            self._drop()
            return "outage"
        return "other"

    # -- applying a batch ---------------------------------------------------------------------------------

    def _attempt(self, schema: Schema, batch_id: str, rows: pa.Table, read: int, failed: dict[int, str],
                 hook: Hook | None, *, commit: bool,
                 accept: Callable[[BatchOutcome], None] | None = None, span: Span | None = None) -> BatchOutcome:
        """As `Warehouse._attempt`, on this session's prepared tables (DDL runs before the transaction)."""
        with self._lock:
            self._prepare(schema)
            return super()._attempt(schema, batch_id, rows, read, failed, hook, commit=commit, accept=accept,
                                    span=span)

    def _screen(self, tx: Transaction, schema: Schema, key: Sequence[str], segment: pa.Table,
                refused: dict[int, str]) -> tuple[pa.Table, pa.Table]:
        """Rows on keys already duplicated in the warehouse end `failed` (never made worse)."""
        assert isinstance(tx, _SnowTransaction)
        existing, counts = tx.lookup(schema, key, distinct_keys(segment, key))
        return _refuse(schema, key, segment, counts, refused), existing

    def _prepare(self, schema: Schema) -> None:
        """(Re)create the session's temporary key and source tables of a schema, before any transaction."""
        name = table_name(schema)
        layout = _source_columns(schema)
        if self._prepared.get(name) == layout:
            return
        self._run(f"CREATE OR REPLACE TEMPORARY TABLE {_session_table('k', schema)} "
                  f"({_ddl(_record_columns(schema))})")
        self._run(f"CREATE OR REPLACE TEMPORARY TABLE {_session_table('s', schema)} ({_ddl(layout)})")
        self._prepared[name] = layout

    def _load(self, table: str, layout: Sequence[Column], data: pa.Table, kinds: dict[str, Any]) -> None:
        """Replace the rows of a session table with `data` (Arrow columns named like the layout's)."""
        names = [name for name, _, _ in layout if name in data.column_names]
        self._upload(table, layout, pa.table([parquet_column(kinds.get(n), data.column(n)) for n in names],
                                             names=names))

    def _upload(self, table: str, layout: Sequence[Column], data: pa.Table) -> None:
        """Replace the rows of a session table with `data`, already in Parquet form (`parquet_column`):
        Parquet in memory → PUT to the temporary stage → COPY INTO."""
        self._run(f"DELETE FROM {table}")  # noqa: S608
        if data.num_rows == 0:
            return
        types = {name: (kind, quoted) for name, kind, quoted in layout}
        names = [n for n in data.column_names if n in types]
        buffer = io.BytesIO()
        pq.write_table(data.select(names), buffer)
        buffer.seek(0)
        folder = uuid.uuid4().hex
        self._run(f"PUT 'file://{folder}.parquet' @{STAGE}/{folder} AUTO_COMPRESS=FALSE OVERWRITE=TRUE",
                  file_stream=buffer)
        targets = ", ".join(quote(n) if types[n][1] else n for n in names)
        select = ", ".join(f'$1:"{n}"::{types[n][0]}' for n in names)
        result = self._run(f"COPY INTO {table} ({targets}) FROM (SELECT {select} FROM @{STAGE}/{folder}/) "  # noqa: S608
                           "FILE_FORMAT = (TYPE = PARQUET) ON_ERROR = ABORT_STATEMENT PURGE = TRUE").fetchall()
        loaded = sum(int(r[3]) for r in result if len(r) > 3 and str(r[1]).upper() in ("LOADED", "PARTIALLY_LOADED"))
        if loaded != data.num_rows:
            raise FerryError(errors.WAREHOUSE_REJECTED, f"COPY INTO {table} loaded {loaded} of {data.num_rows} rows")


class _SnowTransaction(Transaction):
    """An open transaction on the owner's session; it holds the owner's lock until it ends."""

    def __init__(self, owner: SnowflakeWarehouse) -> None:
        self._owner = owner
        self._done = False

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One statement in this transaction (`%s` placeholders); its cursor."""
        return self._owner._run(sql, list(params) if params else None)

    def lookup(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> tuple[pa.Table, dict[tuple[Any, ...], int]]:
        """(distinct key values some record holds, {values: number of records holding them})."""
        owner = self._owner
        owner._load(_session_table("k", schema), _record_columns(schema), keys, _kinds(schema))
        cols = ", ".join(f"t.{quote(k)}" for k in key)
        on = " AND ".join(f"t.{quote(k)} = k.{quote(k)}" for k in key)
        rows = owner._run(f"SELECT {cols}, COUNT(*) FROM {quote(table_name(schema))} t "  # noqa: S608
                          f"JOIN {_session_table('k', schema)} k ON {on} GROUP BY {cols}").fetchall()
        existing = pa.table({k: pa.array([row[i] for row in rows], type=keys.schema.field(k).type)
                             for i, k in enumerate(key)})
        return existing, {tuple(row[:-1]): int(row[-1]) for row in rows}

    def existing(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
        return self.lookup(schema, key, keys)[0]

    def apply_groups(self, schema: Schema, key: Sequence[str], groups: pa.Table, news: pa.Table) -> None:
        """Upload the segment's groups and new records as one source table, then one MERGE."""
        owner = self._owner
        source = _session_table("s", schema)
        owner._upload(source, _source_columns(schema), _source(schema, groups, news))
        updated = [n for n in schema.attribute_names if n in groups.column_names] if groups.num_rows else []
        inserted = list(news.column_names) if news.num_rows else []
        owner._run(merge_sql(schema, quote(table_name(schema)), key, source, updated=updated, inserted=inserted,
                             now=NOW))

    def write_ledger(self, batch_id: str, schema_id: str, outcome: BatchOutcome) -> None:
        self._owner._run(f"INSERT INTO {LEDGER} (batch_id, schema_id, applied_at, counts, outcomes) "  # noqa: S608
                         f"VALUES (%s, %s, {NOW}, %s, %s)",
                         (batch_id, schema_id, json.dumps(outcome.counts), outcome.to_json()))

    def commit(self) -> None:
        self._done = True
        try:
            self._owner._run("COMMIT")
        finally:
            self._owner._lock.release()

    def rollback(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if self._owner._conn is not None:
                self._owner._run("ROLLBACK")
        except Exception:
            self._owner._drop()  # an unknown session state is not reused
        finally:
            self._owner._lock.release()


def _target_columns(schema: Schema) -> list[tuple[str, str]]:
    columns = [(a.name, column_type(a)) for a in schema.attributes]
    return columns + [(name, STAMP_TYPE) for name in stamp_columns(schema)]


def _source_columns(schema: Schema) -> tuple[Column, ...]:
    """The MERGE's source table: `__k_<a>`, `<a>`, `__p_<a>` for every attribute, then the flags."""
    columns: list[Column] = []
    for attr in schema.attributes:
        kind = column_type(attr)
        columns += [(f"__k_{attr.name}", kind, True), (attr.name, kind, True), (f"__p_{attr.name}", "BOOLEAN", True)]
    return (*columns, *((flag, "BOOLEAN", False) for flag in FLAGS))


def _source(schema: Schema, groups: pa.Table, news: pa.Table) -> pa.Table:
    """The groups, then the new records (`__new`), in Parquet form with every column of the source table."""
    kinds: dict[str, AttrType | None] = {}
    for attr in schema.attributes:
        kinds.update({f"__k_{attr.name}": attr.type, attr.name: attr.type, f"__p_{attr.name}": None})
    kinds.update(dict.fromkeys(FLAGS))
    parts = []
    for data, new in ((groups, False), (news, True)):
        if data.num_rows == 0:
            continue
        given = {DELETE_FLAG: False, UPDATE_FLAG: False, NEW_FLAG: new}
        columns = {}
        for name, kind in kinds.items():
            if name in data.column_names and name != NEW_FLAG:
                columns[name] = parquet_column(kind, data.column(name))
            elif name in given:
                columns[name] = pa.array([given[name]] * data.num_rows, pa.bool_())
            else:
                columns[name] = null_column(kind, data.num_rows)
        parts.append(pa.table(columns))
    return pa.concat_tables(parts)


def _ddl(columns: Sequence[Column]) -> str:
    return ", ".join(f"{quote(n) if quoted else n} {kind}" for n, kind, quoted in columns)


def _record_columns(schema: Schema) -> tuple[Column, ...]:
    return tuple((a.name, column_type(a), True) for a in schema.attributes)


def _kinds(schema: Schema) -> dict[str, Any]:
    return {a.name: a.type for a in schema.attributes}


def _session_table(kind: str, schema: Schema) -> str:
    """`ferry_k_<table>` (keys looked up), `ferry_s_<table>` (the MERGE's source: groups and new records)."""
    return quote(f"ferry_{kind}_{table_name(schema)}")


def _refuse(schema: Schema, key: Sequence[str], segment: pa.Table, counts: dict[tuple[Any, ...], int],
            refused: dict[int, str]) -> pa.Table:
    """Drop the rows applied by a key that several records hold at their turn; record why in `refused`.

    `counts` are the warehouse's records per key value before the segment. Within it, only free inserts (new
    records keyed on their own UUID) can add a second record with a key value; a refused row changes nothing.
    """
    free = free_inserts(segment).to_pylist()
    values = list(zip(*(segment.column(k).to_pylist() for k in key), strict=True))
    ops = segment.column("_op").to_pylist()
    # At most this many records can hold a value at some point: those before, plus every row that may create one.
    bound = dict(counts)
    for value, op in zip(values, ops, strict=True):
        if op in ("insert", "insertOrUpdate"):
            bound[value] = bound.get(value, 0) + 1
    risky = {v for v, n in bound.items() if n > 1 and None not in v}
    if not risky:
        return segment
    held = {v: counts.get(v, 0) for v in risky}
    seqs = segment.column("_seq").to_pylist()
    keep = [True] * segment.num_rows
    for i, value in enumerate(values):
        if value not in held:
            continue
        if free[i]:
            held[value] += 1
        elif held[value] > 1:
            keep[i] = False
            refused[int(seqs[i])] = duplicate_reason(schema, key, value, held[value])
        elif ops[i] == "delete":
            held[value] = 0
        elif ops[i] in ("insert", "insertOrUpdate") and held[value] == 0:
            held[value] = 1
    return segment.filter(pa.array(keep, pa.bool_()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
