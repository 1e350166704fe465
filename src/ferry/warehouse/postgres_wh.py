"""A PostgreSQL warehouse (`postgresql://…`): Arrow loaded with binary COPY (ADBC) into temp tables, then MERGE."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from ferry.schema.model import Attribute, Schema
from ferry.schema.types import AttrType
from ferry.staging.ddl import PG_TYPES
from ferry.warehouse import statements
from ferry.warehouse.base import BatchOutcome, ErrorKind, Transaction, Warehouse
from ferry.warehouse.tables import LEDGER, quote, stamp_columns, table_name

_KEYS = "__ferry_keys"
_GROUPS = "__ferry_g"
_NEWS = "__ferry_n"


def _lookup_keys(schema: Schema) -> list[tuple[str, ...]]:
    """Indexed column sets: `id` and the schema's keys and indexes, so a batch costs the same in a big table."""
    found: list[tuple[str, ...]] = [("id",)]
    for fields in [*(k.fields for k in schema.keys), *(i.fields for i in schema.indexes)]:
        if fields not in found:
            found.append(fields)
    return found


def _pg_type(attr: Attribute) -> str:
    if attr.type is AttrType.STRING and attr.length:
        return f"varchar({attr.length})"
    return PG_TYPES[attr.type]


class PostgresWarehouse(Warehouse):
    """One ADBC connection (transactions, Arrow in and out), used by one apply at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn: Any = None
        with self._lock:
            cur = self._connection().cursor()
            cur.execute(f"CREATE TABLE IF NOT EXISTS {LEDGER} (batch_id text PRIMARY KEY, schema_id text, "
                        "applied_at timestamptz, counts text, outcomes text)")
            cur.execute("SELECT current_setting('server_version_num')::int")
            row = cur.fetchone()
            self._merge = row is not None and int(row[0]) >= 150000
            cur.close()
            self._connection().commit()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = adbc.connect(self.url)
        return self._conn

    def ensure_table(self, schema: Schema) -> None:
        """Create the table or add the schema's new columns."""
        columns = [(a.name, _pg_type(a)) for a in schema.attributes]
        columns += [(name, "timestamptz") for name in stamp_columns(schema)]
        table = quote(table_name(schema))
        with self._lock:
            conn = self._connection()
            cur = conn.cursor()
            try:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                            + ", ".join(f"{quote(n)} {t}" for n, t in columns) + ")")
                for name, kind in columns:
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote(name)} {kind}")
                cur.execute("SELECT column_name, character_maximum_length FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = $1 "
                            "AND data_type = 'character varying'", parameters=(table_name(schema),))
                lengths = {str(row[0]): row[1] for row in cur.fetchall()}
                for name, kind in columns:
                    # Staging widens a string attribute's length when the schema does; follow it, never narrow.
                    have = lengths.get(name)
                    if kind.startswith("varchar(") and have is not None and int(kind[8:-1]) > int(have):
                        cur.execute(f"ALTER TABLE {table} ALTER COLUMN {quote(name)} TYPE {kind}")
                for fields in _lookup_keys(schema):
                    # Not unique: the warehouse enforces no key (keyless inserts may duplicate an email).
                    index = quote(f"{table_name(schema)}__{'_'.join(fields)}"[:63])
                    cur.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} "
                                f"({', '.join(quote(f) for f in fields)})")
                conn.commit()
            except adbc_driver_manager.Error as exc:
                self._reset()
                self._raise_unless_data(exc)
                raise
            finally:
                cur.close()

    dialect = "postgres"

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read query (`%s` placeholders) on a short psycopg connection, in a read-only transaction."""
        import psycopg

        with psycopg.connect(self.url) as conn:
            conn.read_only = True
            return list(conn.execute(sql, list(params)).fetchall())

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """The ledger entry of a batch, or None."""
        with self._lock:
            conn = self._connection()
            cur = conn.cursor()
            try:
                cur.execute(f"SELECT outcomes FROM {LEDGER} WHERE batch_id = $1", parameters=(batch_id,))  # noqa: S608
                row = cur.fetchone()
                conn.rollback()
            except adbc_driver_manager.Error as exc:
                self._reset()
                self._raise_unless_data(exc)
                raise
            finally:
                cur.close()
        return None if row is None else BatchOutcome.from_json(batch_id, row[0])

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """All records, as dicts."""
        with self._lock:
            conn = self._connection()
            cur = conn.cursor()
            try:
                cur.execute(f"SELECT * FROM {quote(table_name(schema))}")  # noqa: S608
                rows: list[dict[str, Any]] = cur.fetch_arrow_table().to_pylist()
                conn.rollback()
            finally:
                cur.close()
        return rows

    def truncate(self, schema: Schema) -> None:
        """Empty the schema's table and the ledger."""
        with self._lock:
            conn = self._connection()
            cur = conn.cursor()
            cur.execute(f"TRUNCATE {quote(table_name(schema))}, {LEDGER}")
            conn.commit()
            cur.close()

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

    def existing(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
        self._cur.adbc_ingest(_KEYS, keys, mode="replace", temporary=True)
        self._cur.execute(f"ANALYZE {_KEYS}")
        cols = ", ".join(f"t.{quote(k)}" for k in key)
        on = " AND ".join(f"t.{quote(k)} = k.{quote(k)}" for k in key)
        self._cur.execute(f"SELECT DISTINCT {cols} FROM {quote(table_name(schema))} t "  # noqa: S608
                          f"JOIN {_KEYS} k ON {on}")
        result: pa.Table = self._cur.fetch_arrow_table()
        return result

    def apply_groups(self, schema: Schema, key: Sequence[str], groups: pa.Table, news: pa.Table) -> None:
        table = quote(table_name(schema))
        names = [n for n in schema.attribute_names if n in groups.column_names]
        if groups.num_rows:
            self._cur.adbc_ingest(_GROUPS, _for_postgres(groups), mode="replace", temporary=True)
            self._cur.execute(f"ANALYZE {_GROUPS}")
            self._cur.execute(statements.delete_sql(table, key, _GROUPS))
            if self._owner._merge:
                self._cur.execute(statements.merge_sql(schema, table, key, names, _GROUPS, "now()"))
            else:
                self._cur.execute(statements.update_sql(schema, table, key, names, _GROUPS, "now()"))
        if news.num_rows:
            self._cur.adbc_ingest(_NEWS, _for_postgres(news), mode="replace", temporary=True)
            self._cur.execute(statements.insert_sql(schema, table, news.column_names, _NEWS, "now()"))

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
