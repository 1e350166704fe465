"""Plain parameterised SQL inside one warehouse transaction (DuckDB `?`, PostgreSQL ADBC `$n`), for the applier.

Statements are written with `?` placeholders and portable types (`CAST(? AS VARCHAR)`, `TIMESTAMPTZ`, `BOOLEAN`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.warehouse.base import BatchOutcome, Transaction, Warehouse

_PLACEHOLDER = re.compile(r"\?")


def _engine(warehouse: Warehouse) -> str:
    name = type(warehouse).__name__
    if name == "DuckDBWarehouse":
        return "duckdb"
    if name == "PostgresWarehouse":
        return "postgres"
    raise FerryError(errors.WAREHOUSE_URL, f"subscriptions are applied to DuckDB and PostgreSQL warehouses, not "
                     f"{warehouse.url.split('://')[0]}")


class WarehouseTx:
    """One open warehouse transaction (the engine's own, so the ledger row commits with the changes)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.engine = _engine(warehouse)
        self.tx: Transaction = warehouse._begin()
        self._cur: Any = getattr(self.tx, "_cur")  # noqa: B009 - both engines keep their cursor there

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Execute one statement."""
        if self.engine == "postgres":
            counter = iter(range(1, len(params) + 1))
            text = _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)
            if params:
                self._cur.execute(text, parameters=tuple(params))
            else:
                self._cur.execute(text)
        else:
            self._cur.execute(sql, list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute a query and fetch every row."""
        self.run(sql, params)
        return [tuple(r) for r in self._cur.fetchall()]

    def commit(self, batch_id: str | None = None, schema_id: str = "", outcome: BatchOutcome | None = None) -> None:
        """Write the ledger row (when given) and commit."""
        if batch_id is not None and outcome is not None:
            self.tx.write_ledger(batch_id, schema_id, outcome)
        self.tx.commit()

    def rollback(self) -> None:
        """Roll back (never raises)."""
        self.tx.rollback()
