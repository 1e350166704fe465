"""A PostgreSQL warehouse (`postgresql://…`): new records by binary COPY (ADBC) into the table, changes by a MERGE
from a temp table; the ledger row in the same transaction."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from urllib.parse import quote as url_quote

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
import pyarrow.compute as pc

from ferry import errors
from ferry.errors import FerryError
from ferry.netguard import watchdog
from ferry.schema.model import Schema
from ferry.schema.postgres_types import column_type
from ferry.warehouse import statements
from ferry.warehouse.base import BatchOutcome, ErrorKind, Identity, Timeouts, Transaction, Warehouse, _message
from ferry.warehouse.postgres_copy import copy_table, key_parameter
from ferry.warehouse.tables import LEDGER, quote, stamp_columns, table_name

_KEYS = "__ferry_keys"
_GROUPS = "__ferry_g"
_NEWS = "__ferry_n"
IDENTITY_TABLE = "__ferry_identity"


def libpq_url(url: str, *, connect: float, statement: float, tcp: float) -> str:
    """`url` with libpq's connect timeout, TCP keepalives / user timeout and a statement timeout, unless it sets
    them itself: a dead host or network is noticed instead of waiting forever."""
    parts = urlsplit(url)
    have = dict(parse_qsl(parts.query, keep_blank_values=True))
    wanted: dict[str, str] = {}
    if connect > 0:
        wanted["connect_timeout"] = str(max(1, math.ceil(connect)))  # libpq counts whole seconds
    if tcp > 0:
        wanted.update(keepalives="1", keepalives_idle=str(max(1, int(tcp / 3))),
                      keepalives_interval=str(max(1, int(tcp / 6))), keepalives_count="3",
                      tcp_user_timeout=str(int(tcp * 1000)))
    if statement > 0 and "options" not in have:
        wanted["options"] = f"-c statement_timeout={int(statement * 1000)}"
    extra = {name: value for name, value in wanted.items() if name not in have}
    if not extra:
        return url
    # Appended, not re-assembled: urlunsplit would drop the `//` of `postgresql:///db?host=/socket`.
    return url + ("&" if parts.query else "?") + urlencode(extra, quote_via=url_quote)


def _display(url: str) -> str:
    parts = urlsplit(url)
    return f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


def _lookup_keys(schema: Schema) -> list[tuple[str, ...]]:
    """Indexed column sets: `id` and the schema's keys and indexes, so a batch costs the same in a big table."""
    found: list[tuple[str, ...]] = [("id",)]
    for fields in [*(k.fields for k in schema.keys), *(i.fields for i in schema.indexes)]:
        if fields not in found:
            found.append(fields)
    return found


class PostgresWarehouse(Warehouse):
    """One ADBC connection (transactions, Arrow in and out), used by one apply at a time."""

    def __init__(self, url: str, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.timeouts = timeouts or Timeouts()
        t = self.timeouts
        self._sync_url = libpq_url(url, connect=t.connect, statement=t.statement, tcp=t.tcp)
        self._read_url = libpq_url(url, connect=min(t.connect, t.read) if t.read > 0 else t.connect,
                                   statement=t.read, tcp=t.tcp)
        self._lock = threading.RLock()
        self._conn: Any = None
        with self._lock:
            try:
                cur = self._connection().cursor()
                cur.execute(f"CREATE TABLE IF NOT EXISTS {LEDGER} (batch_id text PRIMARY KEY, schema_id text, "
                            "applied_at timestamptz, counts text, outcomes text)")
                cur.execute("SELECT current_setting('server_version_num')::int")
                row = cur.fetchone()
                self._merge = row is not None and int(row[0]) >= 150000
                cur.close()
                self._connection().commit()
            except adbc_driver_manager.Error as exc:
                self.close()
                self._raise_unless_data(exc)
                raise

    def _connection(self) -> Any:
        """The sync's ADBC connection, (re)connected on demand; FRY-500001 when the warehouse cannot be reached."""
        if self._conn is None:
            try:
                self._conn = adbc.connect(self._sync_url)
            except adbc_driver_manager.Error as exc:
                raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"cannot connect to the PostgreSQL warehouse "
                                 f"{_display(self.url)}: {_message(exc)}") from None
        return self._conn

    @contextmanager
    def _cursor(self, *, commit: bool) -> Iterator[Any]:
        """A cursor on the sync's connection, under its lock, for one short transaction: committed (or rolled
        back when `commit` is false) at the end; an engine error resets the connection and is classified."""
        with self._lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                try:
                    yield cur
                    if commit:
                        conn.commit()
                    else:
                        conn.rollback()
                finally:
                    cur.close()
            except adbc_driver_manager.Error as exc:
                self._reset()
                self._raise_unless_data(exc)
                raise

    def identity(self) -> Identity:
        """A UUID kept in the warehouse database (created by the first caller), with the database's name."""
        with self._cursor(commit=True) as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {IDENTITY_TABLE} (one boolean PRIMARY KEY DEFAULT true "
                        "CHECK (one), id text NOT NULL)")
            cur.execute(f"INSERT INTO {IDENTITY_TABLE} (one, id) VALUES (true, $1) "  # noqa: S608
                        "ON CONFLICT (one) DO NOTHING", parameters=(str(uuid.uuid4()),))
            cur.execute(f"SELECT id, current_database() FROM {IDENTITY_TABLE}")  # noqa: S608
            row = cur.fetchone()
        assert row is not None
        return Identity("postgresql", f"{row[0]}/{row[1]}", _display(self.url))

    def ensure_table(self, schema: Schema) -> None:
        """Create the table or add the schema's new columns."""
        columns = [(a.name, column_type(a)) for a in schema.attributes]
        columns += [(name, "timestamptz") for name in stamp_columns(schema)]
        table = quote(table_name(schema))
        with self._cursor(commit=True) as cur:
            # What exists first, in two catalog reads: a sync run calls this every time, and an ALTER TABLE,
            # even one that changes nothing, takes an exclusive lock that blocks every reader of the table.
            cur.execute("SELECT a.attname, CASE WHEN a.atttypid = 'varchar'::regtype AND a.atttypmod > 4 "
                        "THEN a.atttypmod - 4 END FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
                        "AND a.attnum > 0 AND NOT a.attisdropped", parameters=(table,))
            lengths = {str(row[0]): row[1] for row in cur.fetchall()}
            if not lengths:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                            + ", ".join(f"{quote(n)} {t}" for n, t in columns) + ")")
            for name, kind in columns:
                if lengths and name not in lengths:
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote(name)} {kind}")
            for name, kind in columns:
                # Staging widens a string attribute's length when the schema does; follow it, never narrow.
                have = lengths.get(name)
                if kind.startswith("varchar(") and have is not None and int(kind[8:-1]) > int(have):
                    cur.execute(f"ALTER TABLE {table} ALTER COLUMN {quote(name)} TYPE {kind}")
            cur.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE i.indrelid = to_regclass($1)", parameters=(table,))
            indexes = {str(row[0]) for row in cur.fetchall()}
            for fields in _lookup_keys(schema):
                # Not unique: the warehouse enforces no key (keyless inserts may duplicate an email).
                index = f"{table_name(schema)}__{'_'.join(fields)}"[:63]
                if index not in indexes:
                    cur.execute(f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {table} "
                                f"({', '.join(quote(f) for f in fields)})")

    dialect = "postgres"

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read query (`%s` placeholders) on a short psycopg connection, in a read-only transaction, bounded
        by the connect and read timeouts: FRY-500006 when it does not answer in time, FRY-500001 when it is down."""
        import psycopg

        try:
            conn = psycopg.connect(self._read_url)
        except psycopg.OperationalError as exc:
            # A connect that timed out (a frozen server accepts TCP, never answers) is a timeout, not a refusal.
            code = errors.WAREHOUSE_TIMEOUT if "timeout" in str(exc).lower() else errors.WAREHOUSE_UNAVAILABLE
            raise FerryError(code, f"cannot connect to the PostgreSQL warehouse {_display(self.url)}: "
                             f"{_message(exc)}") from None
        with conn, watchdog(conn, self.timeouts.read) as fired:
            try:
                conn.read_only = True
                return list(conn.execute(sql, list(params)).fetchall())
            except psycopg.errors.QueryCanceled:
                raise FerryError(errors.WAREHOUSE_TIMEOUT, f"the PostgreSQL warehouse did not answer the read "
                                 f"within {self.timeouts.read:g} s (statement timeout)") from None
            except psycopg.OperationalError as exc:
                if fired.is_set():
                    raise FerryError(errors.WAREHOUSE_TIMEOUT, f"the PostgreSQL warehouse {_display(self.url)} did "
                                     f"not answer the read within {self.timeouts.read:g} s") from None
                raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"the PostgreSQL warehouse {_display(self.url)} "
                                 f"failed during the read: {_message(exc)}") from None

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """The ledger entry of a batch, or None."""
        with self._cursor(commit=False) as cur:
            cur.execute(f"SELECT outcomes FROM {LEDGER} WHERE batch_id = $1", parameters=(batch_id,))  # noqa: S608
            row = cur.fetchone()
        return None if row is None else BatchOutcome.from_json(batch_id, row[0])

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """All records, as dicts."""
        with self._cursor(commit=False) as cur:
            cur.execute(f"SELECT * FROM {quote(table_name(schema))}")  # noqa: S608
            rows: list[dict[str, Any]] = cur.fetch_arrow_table().to_pylist()
        return rows

    def truncate(self, schema: Schema) -> None:
        """Empty the schema's table and the ledger."""
        with self._cursor(commit=True) as cur:
            cur.execute(f"TRUNCATE {quote(table_name(schema))}, {LEDGER}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(adbc_driver_manager.Error):
                    self._conn.close()
                self._conn = None

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rollback()
        except adbc_driver_manager.Error:
            self.close()

    def _begin(self) -> Transaction:
        self._lock.acquire()
        try:
            return _PgTransaction(self, self._connection())
        except BaseException:
            self._lock.release()
            raise

    def _classify(self, exc: BaseException) -> ErrorKind:
        if isinstance(exc, adbc_driver_manager.Error):
            state = str(getattr(exc, "sqlstate", "") or "")
            if state[:2] in ("22", "23"):
                return "data"
            if state[:2] in ("08", "53", "57", "40") or isinstance(exc, adbc_driver_manager.OperationalError):
                self.close()
                return "outage"
        return "other"


class _PgTransaction(Transaction):
    def __init__(self, owner: PostgresWarehouse, conn: Any) -> None:
        self._owner = owner
        self._conn = conn
        self._cur = conn.cursor()
        self._done = False
        self._sampled = False

    def existing(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
        table = quote(table_name(schema))
        cols = ", ".join(f"t.{quote(k)}" for k in key)
        parameter = key_parameter(keys)
        if parameter is not None:
            # One statement, the keys bound as one array: no temp table to create, fill and plan around.
            self._cur.execute(f"SELECT DISTINCT {cols} FROM {table} t "  # noqa: S608
                              f"WHERE t.{quote(key[0])} = ANY($1)", parameters=parameter)
        else:
            self._cur.adbc_ingest(_KEYS, keys, mode="replace", temporary=True)
            self._analyze(_KEYS, key)
            on = " AND ".join(f"t.{quote(k)} = k.{quote(k)}" for k in key)
            self._cur.execute(f"SELECT DISTINCT {cols} FROM {table} t JOIN {_KEYS} k ON {on}")  # noqa: S608
        result: pa.Table = self._cur.fetch_arrow_table()
        return result

    def apply_groups(self, schema: Schema, key: Sequence[str], groups: pa.Table, news: pa.Table) -> None:
        table = quote(table_name(schema))
        names = [n for n in schema.attribute_names if n in groups.column_names]
        if groups.num_rows:
            # The key's own value columns are never SET (`statements`): not sent.
            unused = [c for k in key for c in (k, f"__p_{k}") if c in groups.column_names]
            self._cur.adbc_ingest(_GROUPS, _for_postgres(groups.drop_columns(unused)), mode="replace",
                                  temporary=True)
            self._analyze(_GROUPS, [f"__k_{k}" for k in key])
            for statement in statements.group_statements(
                    schema, table, key, names, _GROUPS, "now()", merge=self._owner._merge,
                    deletes=bool(pc.any(groups.column("__del")).as_py()),
                    updates=bool(pc.any(groups.column("__upd")).as_py())):
                self._cur.execute(statement)
        if news.num_rows:
            self._insert(schema, table, news)

    def _analyze(self, temp: str, columns: Sequence[str]) -> None:
        """Statistics of a temp table's key columns from a small sample: enough for the planner to see the keys are
        distinct (a hash join, not sorts spilling to disk), at a tenth of a full ANALYZE's cost."""
        if not self._sampled:
            self._cur.execute("SET LOCAL default_statistics_target = 10")
            self._sampled = True
        self._cur.execute(f"ANALYZE {temp} ({', '.join(quote(c) for c in columns)})")

    def _insert(self, schema: Schema, table: str, news: pa.Table) -> None:
        """New records by binary COPY straight into the table (stamped with the transaction's `now()`), else through
        a temp table and INSERT … SELECT when a column does not cast cleanly to its column's type."""
        now, columns = self._columns(schema)
        rows = copy_table(news, columns, stamp_columns(schema), now)
        if rows is not None:
            self._cur.adbc_ingest(table_name(schema), rows, mode="append")
            return
        self._cur.adbc_ingest(_NEWS, _for_postgres(news), mode="replace", temporary=True)
        self._cur.execute(statements.insert_sql(schema, table, news.column_names, _NEWS, "now()"))

    def _columns(self, schema: Schema) -> tuple[datetime, dict[str, int]]:
        """The transaction's `now()` and the table's column type OIDs, read in this transaction (a column changed
        behind ferry's back is seen, never guessed)."""
        self._cur.execute("SELECT now(), a.attname, a.atttypid::int FROM pg_attribute a "
                          "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                          parameters=(quote(table_name(schema)),))
        rows = self._cur.fetchall()
        now = rows[0][0] if rows else datetime.now(UTC)
        return now, {str(row[1]): int(row[2]) for row in rows}

    def write_ledger(self, batch_id: str, schema_id: str, outcome: BatchOutcome) -> None:
        self._cur.execute(f"INSERT INTO {LEDGER} VALUES ($1, $2, now(), $3, $4)",  # noqa: S608
                          parameters=(batch_id, schema_id, json.dumps(outcome.counts), outcome.to_json()))

    def commit(self) -> None:
        self._done = True
        try:
            self._cur.close()
            self._conn.commit()
        finally:
            self._owner._lock.release()

    def rollback(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._cur.close()
            self._conn.rollback()
        except adbc_driver_manager.Error:
            self._owner.close()
        finally:
            self._owner._lock.release()


def _for_postgres(table: pa.Table) -> pa.Table:
    # DuckDB hands back large strings and 64-bit decimals in places; PostgreSQL's COPY wants plain types.
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(f.name, kind))
    return table.cast(pa.schema(fields))
