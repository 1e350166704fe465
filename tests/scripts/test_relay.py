"""`ferry js` while another process holds the DuckDB warehouse: the script is relayed through staging to it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferry.config import Settings
from ferry.scripts import relay
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


async def _ended(pool: Any, request_id: Any) -> tuple[list[str], dict[str, Any]]:
    seen: list[str] = []
    for _ in range(600):
        _, lines, ended = await asyncio.to_thread(relay.state, pool, request_id, len(seen))
        seen += [line.message for line in lines]
        if ended is not None:
            return seen, ended
        await asyncio.sleep(0.1)
    raise AssertionError("the relayed script never ended")


@pytest.mark.anyio
async def test_a_server_holding_the_duckdb_file_runs_the_scripts_left_for_it(in_process: Any,
                                                                            settings: Settings) -> None:
    async with in_process(settings) as (runtime, _client):
        assert runtime.relayed_scripts is not None
        pool = runtime.db.pool
        ran = relay.request_run(pool, filename="r.js", source='logInfo(xtk.session.Ingest(<recipient '
                                'email="relay@x.com" xtkschema="nms:recipient"/>));\nlogInfo(vars.a);',
                                vars={"a": "b"}, operator_login="admin", requested_by="local:test", time_limit=30)
        lines, ended = await _ended(pool, ran)
        assert ended["outcome"] == "succeeded" and lines[1:] == ["b"] and len(ended["request_ids"]) == 1
        head = await asyncio.to_thread(runtime.db.store.request, uuid.UUID(ended["request_ids"][0]))
        assert head is not None and head["operator"] == "admin" and head["records"][0]["values"]["id"] == lines[0]
        assert head["run_id"] == ran  # the relay request's id names the run
        run = await asyncio.to_thread(runtime.db.store.request, ran)
        assert run is not None and [str(row["request_id"]) for row in run["records"]] == ended["request_ids"]
        refused = relay.request_run(pool, filename="n.js", source="logInfo(1);", vars={}, operator_login="nobody",
                                    requested_by="local:test", time_limit=30)
        _, ended = await _ended(pool, refused)
        assert (ended["outcome"], ended["error_code"]) == ("failed", "FRY-600006")
