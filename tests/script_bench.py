"""The workflow-script tests' bench: a staging database, its settings and a lazily opened warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.auth import Operator
from ferry.config import Settings
from ferry.scripts.api import ScriptApi
from ferry.scripts.results import ScriptResult
from ferry.scripts.runner import run_script
from ferry.staging import StagingDatabase, warehouse_identity
from ferry.warehouse import Warehouse, open_warehouse

SAMPLE_SCHEMA = Path(__file__).parents[1] / "src" / "ferry" / "schema" / "examples" / "dem_sampleTable.xml"


@dataclass
class ScriptBench:
    """A staging database, its settings and a lazily opened DuckDB warehouse, shared by a module's tests."""

    settings: Settings
    db: StagingDatabase
    opened: list[Warehouse]

    def warehouse(self) -> Warehouse:
        """The module's warehouse (opened once)."""
        if not self.opened:
            warehouse = open_warehouse(self.settings.effective_warehouse_url)
            warehouse_identity.verify(self.db.pool, warehouse)
            self.opened.append(warehouse)
        return self.opened[0]

    def api(self, operator: Operator | None = None) -> ScriptApi:
        """A ScriptApi as `ferry js` builds it (the local owner unless `operator`)."""
        return ScriptApi.for_staging(self.db, self.settings, operator, warehouse=self.warehouse)

    def run(self, source: str, operator: Operator | None = None, **options: Any) -> ScriptResult:
        """Run `source` (as `test.js`) to its end."""
        options.setdefault("time_limit", 60)
        return run_script(source, filename="test.js", api=self.api(operator), **options)
