"""A warehouse opened on first use and again after a failed open: a server starts and ingests while it is down."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.warehouse.base import BatchOutcome, ErrorKind, Hook, Identity, Span, Transaction, Warehouse

_DIALECTS: dict[str, Any] = {"duckdb": "duckdb", "postgresql": "postgres", "postgres": "postgres",
                             "snowflake": "snowflake"}
# Codes after which a later attempt may succeed (the warehouse came back); others stay until a restart.
_TRANSIENT = (errors.WAREHOUSE_UNAVAILABLE, errors.WAREHOUSE_TIMEOUT)


class DeferredWarehouse(Warehouse):
    """Delegates to the warehouse `opener()` returns, opened (and checked by `verify`) on first use; an open that
    fails is tried again on the next use, except a refusal by `verify` (a mismatched warehouse), kept for good."""

    def __init__(self, url: str, opener: Callable[[], Warehouse],
                 verify: Callable[[Warehouse], None] | None = None,
                 on_recovered: Callable[[], None] | None = None) -> None:
        self.url = url
        self.dialect = _DIALECTS.get(url.split("://", 1)[0].lower(), "duckdb")
        self._opener = opener
        self._verify = verify
        self._on_recovered = on_recovered
        self._inner: Warehouse | None = None
        self._lock = threading.Lock()
        self.refused: FerryError | None = None
        self.last_error: FerryError | None = None

    @property
    def opened(self) -> bool:
        """True once the warehouse was opened (and accepted)."""
        return self._inner is not None

    def open(self) -> Warehouse:
        """The opened warehouse; FerryError when it cannot be opened now, or is refused."""
        inner = self._inner
        if inner is not None:
            return inner
        with self._lock:
            if self._inner is not None:
                return self._inner
            if self.refused is not None:
                raise self.refused
            try:
                inner = self._opener()
            except FerryError as exc:
                self.last_error = exc
                raise
            if self._verify is not None:
                try:
                    self._verify(inner)
                except FerryError as exc:
                    inner.close()
                    self.last_error = exc
                    if exc.code not in _TRANSIENT:
                        self.refused = exc
                    raise
                except BaseException:
                    inner.close()
                    raise
            recovered, self._inner, self.last_error = self.last_error is not None, inner, None
        if recovered:
            self._recovered()
        return inner

    def _recovered(self) -> None:
        # Health reads a cached check: have it look again now instead of reporting the outage for another tick.
        if self._on_recovered is not None:
            self._on_recovered()

    def _call(self, action: Callable[[Warehouse], Any]) -> Any:
        inner = self.open()
        try:
            result = action(inner)
        except FerryError as exc:
            if exc.code in _TRANSIENT:
                self.last_error = exc
            raise
        if self.last_error is not None:
            self.last_error = None
            self._recovered()
        return result

    def ensure_table(self, schema: Schema) -> None:
        """See Warehouse."""
        self._call(lambda w: w.ensure_table(schema))

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """See Warehouse."""
        result: BatchOutcome | None = self._call(lambda w: w.batch_applied(batch_id))
        return result

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """See Warehouse."""
        result: list[dict[str, Any]] = self._call(lambda w: w.read(schema))
        return result

    def truncate(self, schema: Schema) -> None:
        """See Warehouse."""
        self._call(lambda w: w.truncate(schema))

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """See Warehouse."""
        result: list[tuple[Any, ...]] = self._call(lambda w: w.select(sql, params))
        return result

    def identity(self) -> Identity:
        """See Warehouse."""
        result: Identity = self._call(lambda w: w.identity())
        return result

    def apply_batch(self, schema: Schema, batch_id: str, batch: pa.Table, hook: Hook | None = None,
                    span: Span | None = None) -> BatchOutcome:
        """See Warehouse."""
        result: BatchOutcome = self._call(lambda w: w.apply_batch(schema, batch_id, batch, hook, span))
        return result

    def apply_atomic(self, schema: Schema, batch_id: str, batch: pa.Table,
                     accept: Callable[[BatchOutcome], None]) -> BatchOutcome:
        """See Warehouse."""
        result: BatchOutcome = self._call(lambda w: w.apply_atomic(schema, batch_id, batch, accept))
        return result

    def close(self) -> None:
        """Close the opened warehouse, if any (a later use opens it again)."""
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner.close()

    def _begin(self) -> Transaction:
        return self.open()._begin()

    def _classify(self, exc: BaseException) -> ErrorKind:
        return self.open()._classify(exc)

    def __getattr__(self, name: str) -> Any:
        # Engine-specific extras (e.g. Snowflake's `duplicates`) of the opened warehouse.
        if name.startswith("__") or name in ("_inner", "_lock", "_opener", "_verify"):
            raise AttributeError(name)
        return getattr(self.open(), name)
