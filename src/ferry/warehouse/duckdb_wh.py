"""The embedded DuckDB warehouse (`duckdb:///path/file.duckdb`): Arrow registered in place, MERGE per group set."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ferry.private_files import private_folder, tighten_files
from ferry.schema.model import Schema
from ferry.warehouse import statements
from ferry.warehouse.base import BatchOutcome, ErrorKind, Identity, Transaction, Warehouse
from ferry.warehouse.tables import DUCKDB_TYPES, LEDGER, quote, stamp_columns, table_name

_DATA_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.ConstraintException, duckdb.ConversionException, duckdb.OutOfRangeException,
    duckdb.InvalidInputException, duckdb.TypeMismatchException,
)
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.IOException, duckdb.ConnectionException, duckdb.TransactionException, duckdb.OutOfMemoryException,
)


class DuckDBWarehouse(Warehouse):
    """A DuckDB file (or `:memory:`); one connection, a cursor per transaction."""

    # One row group: a transaction inserting at least that many rows writes them to the file as it goes and its
    # commit is cheap; fewer go through the WAL, which DuckDB then checkpoints inside a later commit.
    batch_granularity = 122_880

    def __init__(self, url: str, path: str, config: dict[str, str | bool | int | float | list[str]] | None = None
                 ) -> None:
        self.url = url
        self.path = path if path == ":memory:" else str(Path(path).resolve())
        if path != ":memory:":
            # The data folder (or a folder made for the file) is 0700 and the file and its WAL 0600: they hold
            # every record (ferry.private_files).
            if not Path(path).parent.exists():
                private_folder(Path(path).parent)
            tighten_files(Path(path), Path(path + ".wal"))
        # e.g. memory_limit / threads from the URL's query string: DuckDB's buffer cache is the process's biggest
        # memory user as the warehouse grows.
        self._con = duckdb.connect(path, config=dict(config or {}))
        self._lock = threading.Lock()
        self._merge = tuple(int(p) for p in duckdb.__version__.split(".")[:2]) >= (1, 4)
        self._con.execute(f"CREATE TABLE IF NOT EXISTS {LEDGER} (batch_id VARCHAR PRIMARY KEY, schema_id VARCHAR, "
                          "applied_at TIMESTAMPTZ, counts VARCHAR, outcomes VARCHAR)")

    def identity(self) -> Identity:
        """The resolved file path and a UUID kept inside the file (a copy of the file elsewhere is another one)."""
        with self._lock:
            cur = self._con.cursor()
            cur.execute("CREATE TABLE IF NOT EXISTS __ferry_identity (one BOOLEAN PRIMARY KEY, id VARCHAR NOT NULL)")
            cur.execute("INSERT INTO __ferry_identity VALUES (true, ?) ON CONFLICT DO NOTHING", [str(uuid.uuid4())])
            row = cur.execute("SELECT id FROM __ferry_identity").fetchone()
        assert row is not None
        return Identity("duckdb", f"{row[0]}@{self.path}", f"duckdb://{self.path}")

    def ensure_table(self, schema: Schema) -> None:
        """Create the table or add the schema's new columns."""
        columns = [(a.name, DUCKDB_TYPES[a.type]) for a in schema.attributes]
        columns += [(name, "TIMESTAMPTZ") for name in stamp_columns(schema)]
        table = quote(table_name(schema))
        with self._lock:
            cur = self._con.cursor()
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ("
                        + ", ".join(f"{quote(n)} {t}" for n, t in columns) + ")")
            have = {row[0] for row in cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
                [table_name(schema)]).fetchall()}
            for name, kind in columns:
                if name not in have:
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {kind}")

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """The ledger entry of a batch, or None."""
        row = self._con.cursor().execute(f"SELECT outcomes FROM {LEDGER} WHERE batch_id = ?",  # noqa: S608
                                         [batch_id]).fetchone()
        return None if row is None else BatchOutcome.from_json(batch_id, row[0])

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """All records, as dicts."""
        result: list[dict[str, Any]] = self._con.cursor().sql(
            f"SELECT * FROM {quote(table_name(schema))}").to_arrow_table().to_pylist()  # noqa: S608
        return result

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One read query on its own cursor (`?` placeholders)."""
        rows: list[tuple[Any, ...]] = self._con.cursor().execute(sql, list(params)).fetchall()
        return rows

    def truncate(self, schema: Schema) -> None:
        """Empty the schema's table and the ledger."""
        cur = self._con.cursor()
        cur.execute(f"DELETE FROM {quote(table_name(schema))}")  # noqa: S608
        cur.execute(f"DELETE FROM {LEDGER}")  # noqa: S608

    def copy_file(self, target: Path) -> None:
        """A consistent copy of the file (`ferry backup`): checkpointed, copied while no statement of this process
        runs (DuckDB lets no other process write it)."""
        if self.path == ":memory:":
            raise ValueError("an in-memory DuckDB has no file to copy")
        with self._lock:
            self._con.execute("CHECKPOINT")
            shutil.copyfile(self.path, target)

    def close(self) -> None:
        """Close the database file."""
        self._con.close()

    def _begin(self) -> Transaction:
        cur = self._con.cursor()
        cur.execute("BEGIN TRANSACTION")
        return _DuckTransaction(cur, self._merge)

    def _classify(self, exc: BaseException) -> ErrorKind:
        if isinstance(exc, _DATA_ERRORS):
            return "data"
        if isinstance(exc, _OUTAGE_ERRORS):
            return "outage"
        return "other"


class _DuckTransaction(Transaction):
    def __init__(self, cur: duckdb.DuckDBPyConnection, merge: bool) -> None:
        self._cur = cur
        self._merge = merge

    def existing(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
        table = quote(table_name(schema))
        cols = ", ".join(f"t.{quote(k)}" for k in key)
        on = " AND ".join(f"t.{quote(k)} = k.{quote(k)}" for k in key)
        self._cur.register("__ferry_keys", keys)
        try:
            return self._cur.sql(
                f"SELECT DISTINCT {cols} FROM {table} t JOIN __ferry_keys k ON {on}").to_arrow_table()  # noqa: S608
        finally:
            _unregister(self._cur, "__ferry_keys")

    def apply_groups(self, schema: Schema, key: Sequence[str], groups: pa.Table, news: pa.Table) -> None:
        table = quote(table_name(schema))
        names = [n for n in schema.attribute_names if n in groups.column_names]
        self._cur.register("__ferry_g", groups)
        self._cur.register("__ferry_n", news)
        try:
            if groups.num_rows:
                for statement in statements.group_statements(
                        schema, table, key, names, "__ferry_g", "now()", merge=self._merge,
                        deletes=_any(groups, "__del"), updates=_any(groups, "__upd")):
                    self._cur.execute(statement)
            if news.num_rows:
                self._cur.execute(statements.insert_sql(schema, table, news.column_names, "__ferry_n", "now()"))
        finally:
            _unregister(self._cur, "__ferry_g")
            _unregister(self._cur, "__ferry_n")

    def write_ledger(self, batch_id: str, schema_id: str, outcome: BatchOutcome) -> None:
        self._cur.execute(f"INSERT INTO {LEDGER} VALUES (?, ?, now(), ?, ?)",  # noqa: S608
                          [batch_id, schema_id, json.dumps(outcome.counts), outcome.to_json()])

    def commit(self) -> None:
        self._cur.execute("COMMIT")
        self._cur.close()

    def rollback(self) -> None:
        try:
            self._cur.execute("ROLLBACK")
        except duckdb.Error:
            pass
        finally:
            self._cur.close()


def _any(table: pa.Table, column: str) -> bool:
    return bool(pc.any(table.column(column)).as_py())


def _unregister(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    # In an aborted transaction this fails too; the original error is the one to report.
    with contextlib.suppress(duckdb.Error):
        cur.unregister(name)
