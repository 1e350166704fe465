"""Plain parameterised SQL inside one warehouse transaction (DuckDB `?`, PostgreSQL ADBC `$n`, the Snowflake
connector's `%s`), for the applier.

Statements are written with `?` placeholders and portable SQL; the time of the transaction is `tx.now`
(Snowflake has no `now()`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.warehouse.base import BatchOutcome, Transaction, Warehouse

_PLACEHOLDER = re.compile(r"\?")
_ENGINES = {"DuckDBWarehouse": "duckdb", "PostgresWarehouse": "postgres", "SnowflakeWarehouse": "snowflake"}


def _engine(warehouse: Warehouse) -> str:
    # A server's warehouse is opened on first use (DeferredWarehouse): ask the opened one.
    opened = getattr(warehouse, "open", None)
    engine = _ENGINES.get(type(opened() if callable(opened) else warehouse).__name__)
    if engine is None:
        raise FerryError(errors.WAREHOUSE_URL, f"subscriptions are applied to DuckDB, PostgreSQL and Snowflake "
                         f"warehouses, not {warehouse.url.split('://')[0]}")
    return engine


class WarehouseTx:
    """One open warehouse transaction (the engine's own, so the ledger row commits with the changes)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.engine = _engine(warehouse)
        self.now = "CURRENT_TIMESTAMP()" if self.engine == "snowflake" else "now()"
        self.tx: Transaction = warehouse._begin()
        # DuckDB and PostgreSQL transactions keep their cursor in `_cur`; Snowflake's runs statements itself.
        self._cur: Any = getattr(self.tx, "_cur", None)
        self._statement: Callable[[str, Sequence[Any]], Any] | None = getattr(self.tx, "run", None)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Execute one statement."""
        self._execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute a query and fetch every row."""
        return [tuple(r) for r in self._execute(sql, params).fetchall()]

    def _execute(self, sql: str, params: Sequence[Any]) -> Any:
        if self._statement is not None:
            # The connector binds on the client (pyformat): a literal % would need doubling, and none is written.
            return self._statement(_PLACEHOLDER.sub("%s", sql), params)
        if self.engine == "postgres":
            counter = iter(range(1, len(params) + 1))
            text = _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)
            if params:
                self._cur.execute(text, parameters=tuple(params))
            else:
                self._cur.execute(text)
        else:
            self._cur.execute(sql, list(params))
        return self._cur

    def commit(self, batch_id: str | None = None, schema_id: str = "", outcome: BatchOutcome | None = None) -> None:
        """Write the ledger row (when given) and commit."""
        if batch_id is not None and outcome is not None:
            self.tx.write_ledger(batch_id, schema_id, outcome)
        self.tx.commit()

    def rollback(self) -> None:
        """Roll back (never raises)."""
        self.tx.rollback()
