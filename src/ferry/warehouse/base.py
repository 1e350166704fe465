"""The warehouse interface and the engine-independent part of applying a batch exactly once."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.warehouse.fold import (
    DELETED,
    INSERTED,
    REASONS,
    SKIPPED_EXISTS,
    SKIPPED_MISSING,
    UPDATED,
    all_free,
    fold,
    free_inserts,
    segments,
)

Hook = Callable[[str], None]


@dataclass(frozen=True)
class Timeouts:
    """Bounds of warehouse work, in seconds (0: none): connecting, one sync statement, one read, a silent socket,
    waiting for a DuckDB file another process holds."""

    connect: float = 5.0
    statement: float = 900.0
    read: float = 30.0
    tcp: float = 30.0
    lock: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> Timeouts:
        """The `warehouse_*_timeout` settings."""
        return cls(connect=settings.warehouse_connect_timeout, statement=settings.warehouse_statement_timeout,
                   read=settings.warehouse_read_timeout, tcp=settings.warehouse_tcp_timeout,
                   lock=settings.warehouse_lock_timeout)


@dataclass(frozen=True)
class Identity:
    """Which warehouse this is: the engine and an id stable across restarts (a UUID kept in it, its place)."""

    engine: str
    stable_id: str
    display: str
ErrorKind = Literal["data", "outage", "other"]
COUNT_NAMES = ("read", "inserted", "updated", "deleted", "skipped", "failed")


@dataclass(frozen=True)
class Span:
    """The staging range a batch covers (`_seq` first..last, bounds included) and its rows (for the exceptions'
    UUIDs): what the ledger row names besides the outcome."""

    first_seq: int
    last_seq: int
    rows: pa.Table


@dataclass
class BatchOutcome:
    """What applying one batch did: counts, the rows that did not end `synced`, and the range it covered."""

    batch_id: str
    counts: dict[str, int]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    from_ledger: bool = False
    first_seq: int | None = None
    last_seq: int | None = None
    uuids: dict[int, str] = field(default_factory=dict)  # `_seq` → `_uuid` of the skipped and failed rows

    def to_json(self) -> str:
        """The compact form kept in the ledger (rows not listed ended `synced`)."""
        return json.dumps({"counts": self.counts, "skipped": self.skipped, "failed": self.failed,
                           "first_seq": self.first_seq, "last_seq": self.last_seq,
                           "uuids": {str(seq): value for seq, value in self.uuids.items()}})

    @classmethod
    def from_json(cls, batch_id: str, text: str) -> BatchOutcome:
        """Read back a ledger entry (entries written before ranges were kept have none)."""
        data = json.loads(text)
        first, last = data.get("first_seq"), data.get("last_seq")
        return cls(batch_id, dict(data["counts"]), [(int(s), str(r)) for s, r in data["skipped"]],
                   [(int(s), str(e)) for s, e in data["failed"]], from_ledger=True,
                   first_seq=None if first is None else int(first), last_seq=None if last is None else int(last),
                   uuids={int(seq): str(value) for seq, value in (data.get("uuids") or {}).items()})

    def cover(self, span: Span | None) -> None:
        """Name the range and the exceptions' UUIDs (before the ledger row is written)."""
        if span is None:
            return
        self.first_seq, self.last_seq = span.first_seq, span.last_seq
        wanted = [seq for seq, _ in self.skipped] + [seq for seq, _ in self.failed]
        if wanted and "_uuid" in span.rows.column_names:
            found = span.rows.filter(pc.is_in(span.rows.column("_seq"), pa.array(wanted, pa.int64())))
            self.uuids = {int(seq): str(value) for seq, value in
                          zip(found.column("_seq").to_pylist(), found.column("_uuid").to_pylist(), strict=True)}


class Transaction(ABC):
    """One open warehouse transaction, as the engine-independent apply drives it."""

    @abstractmethod
    def existing(self, schema: Schema, key: Sequence[str], keys: pa.Table) -> pa.Table:
        """The distinct key values among `keys` (which may repeat) that some record holds now."""

    @abstractmethod
    def apply_groups(self, schema: Schema, key: Sequence[str], groups: pa.Table, news: pa.Table) -> None:
        """Apply a folded segment (see `ferry.warehouse.fold`): delete, overlay updates, insert new records."""

    @abstractmethod
    def write_ledger(self, batch_id: str, schema_id: str, outcome: BatchOutcome) -> None:
        """Record the batch as applied, in this transaction."""

    @abstractmethod
    def commit(self) -> None:
        """Commit."""

    @abstractmethod
    def rollback(self) -> None:
        """Roll back (never raises)."""


class Warehouse(ABC):
    """A target database: tables per staged schema, batches applied exactly once with a ledger."""

    url: str

    @abstractmethod
    def ensure_table(self, schema: Schema) -> None:
        """Create the schema's table, or add its new columns (never drops any); and the ledger."""

    @abstractmethod
    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """The ledger entry of a batch, or None when it was never committed."""

    @abstractmethod
    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """Every record of the schema's table (tests and small tools only)."""

    @abstractmethod
    def truncate(self, schema: Schema) -> None:
        """Delete every record of the schema and the whole ledger (tests, re-initialisation)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def _begin(self) -> Transaction:
        """Open a transaction."""

    @abstractmethod
    def _classify(self, exc: BaseException) -> ErrorKind:
        """Is this a bad value (data), an unreachable engine (outage), or a bug (other)?"""

    dialect: Literal["duckdb", "postgres", "snowflake"] = "duckdb"
    # Rows a batch should reach while a backlog lasts, for engines whose commits of fewer rows cost more per row
    # (DuckDB's row group); 0: any size. Small batches of a sync that has caught up are taken as they are.
    batch_granularity: int = 0

    def identity(self) -> Identity:
        """This warehouse's identity (created inside it on first call where the engine keeps one)."""
        raise FerryError(errors.WAREHOUSE_URL, f"the {self.url.split('://')[0]} warehouse has no identity")

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one read-only query (placeholders of `dialect`) and return its rows; engines without it refuse."""
        raise FerryError(errors.WAREHOUSE_URL, f"the {self.url.split('://')[0]} warehouse does not serve queries")

    def apply_atomic(self, schema: Schema, batch_id: str, batch: pa.Table,
                     accept: Callable[[BatchOutcome], None]) -> BatchOutcome:
        """Apply every row in one transaction or none (v7 Write): `accept` may raise to refuse the outcome before
        the commit; a value the engine rejects raises FerryError(WAREHOUSE_REJECTED)."""
        try:
            return self._attempt(schema, batch_id, batch, batch.num_rows, {}, None, commit=True, accept=accept)
        except FerryError:
            raise
        except Exception as exc:
            self._raise_unless_data(exc)
            raise FerryError(errors.WAREHOUSE_REJECTED, _message(exc)) from None

    def apply_batch(self, schema: Schema, batch_id: str, batch: pa.Table, hook: Hook | None = None,
                    span: Span | None = None) -> BatchOutcome:
        """Apply staged rows (`_seq` order) and write the ledger row (naming `span`), in one transaction.

        Rows the warehouse rejects are found by bisection and reported `failed`; the others are applied.
        A warehouse outage raises FerryError(WAREHOUSE_UNAVAILABLE) and leaves nothing applied.
        """
        failed: dict[int, str] = {}
        rows = batch
        while True:
            try:
                return self._attempt(schema, batch_id, rows, batch.num_rows, failed, hook, commit=True,
                                     span=span)
            except Exception as exc:
                self._raise_unless_data(exc)
                error = _message(exc)
            # Invariant: rows[:lo] applies, rows[:hi] fails with `error`.
            lo, hi = 0, rows.num_rows
            while hi - lo > 1:
                mid = (lo + hi) // 2
                trial = self._trial(schema, rows.slice(0, mid))
                if trial is None:
                    lo = mid
                else:
                    hi, error = mid, trial
            seq = int(rows.column("_seq")[hi - 1].as_py())
            failed[seq] = error
            rows = rows.filter(pc.not_equal(rows.column("_seq"), seq))

    def _trial(self, schema: Schema, rows: pa.Table) -> str | None:
        try:
            self._attempt(schema, "", rows, rows.num_rows, {}, None, commit=False)
        except Exception as exc:
            self._raise_unless_data(exc)
            return _message(exc)
        return None

    def _raise_unless_data(self, exc: Exception) -> None:
        kind = self._classify(exc)
        if kind == "outage":
            raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"{self.url.split('://')[0]} warehouse unavailable: "
                             f"{_message(exc)}") from exc
        if kind != "data":
            raise exc

    def _screen(self, tx: Transaction, schema: Schema, key: Sequence[str], segment: pa.Table,
                refused: dict[int, str]) -> tuple[pa.Table, pa.Table]:
        """The segment's rows to apply and the keys records already hold; an engine may refuse rows here
        (adding `_seq → reason` to `refused`)."""
        free = free_inserts(segment)
        if all_free(segment, free):
            # Free inserts create records with fresh UUIDs as ids: no record can hold one, nothing to look up.
            return segment, segment.select(list(key)).schema.empty_table()
        # The key values of the rows that are not free inserts, as they are (repeats included: the engine's join
        # dedups them cheaper than Arrow). A key only free inserts carry needs no answer: each of them creates its
        # record whatever exists, and with no update or delete of that key there is no group to apply.
        keys = segment.select(list(key)).filter(pc.invert(free))
        return segment, tx.existing(schema, key, keys)

    def _attempt(self, schema: Schema, batch_id: str, rows: pa.Table, read: int, failed: dict[int, str],
                 hook: Hook | None, *, commit: bool,
                 accept: Callable[[BatchOutcome], None] | None = None, span: Span | None = None) -> BatchOutcome:
        tx = self._begin()
        refused = dict(failed)
        try:
            parts: list[pa.Table] = []
            for key, segment in segments(rows):
                kept, existing = self._screen(tx, schema, key, segment, refused)
                if kept.num_rows == 0:
                    continue
                groups, news, outcomes = fold(schema, key, kept, existing)
                if groups.num_rows or news.num_rows:
                    tx.apply_groups(schema, key, groups, news)
                parts.append(outcomes)
            outcome = _summarise(batch_id, read, parts, refused)
            if accept is not None:
                accept(outcome)
            if not commit:
                tx.rollback()
                return outcome
            outcome.cover(span)
            tx.write_ledger(batch_id, schema.id, outcome)
            if hook:
                hook("after_load")
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
        if hook:
            hook("after_commit")
        return outcome


def _summarise(batch_id: str, read: int, parts: list[pa.Table], failed: dict[int, str]) -> BatchOutcome:
    counts = dict.fromkeys(COUNT_NAMES, 0)
    counts["read"] = read
    counts["failed"] = len(failed)
    skipped: list[tuple[int, str]] = []
    names = {INSERTED: "inserted", UPDATED: "updated", DELETED: "deleted"}
    for part in parts:
        for item in pc.value_counts(part.column("outcome")).to_pylist():
            value, count = item["values"], int(item["counts"])
            counts[names.get(value, "skipped")] += count
        for code in (SKIPPED_EXISTS, SKIPPED_MISSING):
            seqs = part.filter(pc.equal(part.column("outcome"), code)).column("_seq").to_pylist()
            skipped.extend((int(seq), REASONS[code]) for seq in seqs)
    skipped.sort()
    return BatchOutcome(batch_id, counts, skipped, sorted(failed.items()))


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if "ERROR:" in text:
        # libpq via ADBC: "…Failed to execute query '<the statement>': ERROR:  value too long…"
        text = text.rsplit("ERROR:", 1)[1].strip()
    lines = text.splitlines()
    first = lines[0].strip() if lines else type(exc).__name__
    return first[:500]
