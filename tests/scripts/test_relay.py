"""`ferry js` while another process holds the DuckDB warehouse: the script is relayed through staging to it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ferry.scripts.api import ScriptApi, local_owner
from ferry.scripts.relay import RelayedRuns, ScriptRequest
from ferry.scripts.results import LogLine, ScriptResult
from ferry.scripts.runner import run_script
from script_bench import ScriptBench


def test_a_script_is_run_by_the_process_holding_the_warehouse(bench: ScriptBench, tmp_path: Path) -> None:
    bench.warehouse()  # this process holds the DuckDB file, as a running `ferry serve` does
    ran: list[ScriptRequest] = []

    def run(request: ScriptRequest, on_log: Callable[[LogLine], None]) -> ScriptResult:
        ran.append(request)
        api = ScriptApi.for_staging(bench.db, bench.settings, local_owner(), warehouse=bench.warehouse)
        return run_script(request.source, filename=request.filename, api=api, vars=request.vars,
                          time_limit=request.time_limit, on_log=on_log)

    relayed = RelayedRuns(bench.db.pool, run)
    relayed.start()
    try:
        script = tmp_path / "held.js"
        script.write_text('xtk.session.Write(<sampleTableStg testcol1="relayed" xtkschema="dem:sampleTableStg"/>);\n'
                          'logInfo(xtk.queryDef.create(<queryDef schema="dem:sampleTable" operation="count">'
                          '<where><condition expr="@testcol1 = \'relayed\'"/></where></queryDef>).ExecuteQuery()'
                          '.@count);\nlogWarning(vars.who);\n\n  null.x;\n')
        env = {**os.environ, "FERRY_DATABASE_URL": str(bench.settings.database_url),
               "FERRY_DATA_DIR": str(bench.settings.data_dir),
               "FERRY_WAREHOUSE_URL": bench.settings.effective_warehouse_url}
        done = subprocess.run([sys.executable, "-m", "ferry.cli", "js", str(script), "--var", "who=me",
                               "--time-limit", "30"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        relayed.stop()
    assert [request.vars for request in ran] == [{"who": "me"}]
    assert done.stdout == "1\n"
    assert "warning: me" in done.stderr
    assert done.returncode == 1 and f"{script}:5:" in done.stderr and "FRY-130001" in done.stderr
