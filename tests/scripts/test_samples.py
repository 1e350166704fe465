"""The seed's "Dans un workflow" samples, copied verbatim into samples/, run with `ferry js` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from ferry.sync import run_once
from ferry.warehouse import open_warehouse
from script_bench import ScriptBench

SAMPLES = Path(__file__).parent / "samples"


def ferry(bench: ScriptBench, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FERRY_DATABASE_URL": str(bench.settings.database_url),
           "FERRY_DATA_DIR": str(bench.settings.data_dir),
           "FERRY_WAREHOUSE_URL": bench.settings.effective_warehouse_url}
    env.pop("FERRY_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "ferry.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=bench.settings.data_dir.parent)


def js(bench: ScriptBench, sample: str) -> str:
    done = ferry(bench, "js", str(SAMPLES / sample))
    assert done.returncode == 0, done.stderr
    return done.stdout


def warehouse_rows(bench: ScriptBench) -> list[dict[str, Any]]:
    bench.db.reload_schemas()
    schema = bench.db.registry.get("dem:sampleTable")
    assert schema is not None
    warehouse = open_warehouse(bench.settings.effective_warehouse_url)
    try:
        result = run_once(bench.db, warehouse, schema.id, bench.settings, wait=True)
        assert result.state == "succeeded", result.error
        return warehouse.read(schema)
    finally:
        warehouse.close()


def test_the_seed_samples_run_unchanged(bench: ScriptBench) -> None:
    printed = js(bench, "ingest.js")
    assert printed.endswith("\n") and printed.count("\n") == 1  # the UUID alone: nothing else on stdout
    record_id = str(uuid.UUID(printed.strip()))
    rows = {str(row["id"]): row for row in warehouse_rows(bench)}
    assert rows[record_id]["testcol1"] == "testValue1" and rows[record_id]["testcol2"] == "testValue2"

    assert js(bench, "ingest_key.js") == "\n"  # with _key, Ingest answers "" as Campaign does
    assert js(bench, "ingest_key.js") == "\n"
    keyed = [row for row in warehouse_rows(bench) if str(row["id"]) == "ABC12345"]
    assert len(keyed) == 1 and keyed[0]["testcol1"] == "testValue1"

    assert js(bench, "ingest_ext.js") == ""
    keyed = [row for row in warehouse_rows(bench) if str(row["id"]) == "ABC12345"]
    assert len(keyed) == 1
    assert (keyed[0]["testcol1"], keyed[0]["testcol2"]) == ("testValue A (updated)", "testValue B (updated)")


def test_a_failing_script_reports_file_line_column_and_code_on_stderr(bench: ScriptBench, tmp_path: Path) -> None:
    script = tmp_path / "bad.js"
    script.write_text('logInfo("one");\nlogWarning("two");\nvar x = <a/>;\n  x.nothing.call();\n')
    done = ferry(bench, "js", str(script), "--var", "a=b")
    assert done.returncode == 1
    assert done.stdout == "one\n"
    assert "warning: two" in done.stderr
    assert f"{script}:4:" in done.stderr and "FRY-130001" in done.stderr


def test_ferry_js_names_its_run_on_stderr_and_the_run_lists_its_calls(bench: ScriptBench, tmp_path: Path) -> None:
    script = tmp_path / "three.js"
    script.write_text("".join(f'logInfo(xtk.session.Ingest(<sampleTable xtkschema="dem:sampleTable" '
                              f'testcol1="run {n}"/>));\n' for n in range(3)))
    done = ferry(bench, "js", str(script))
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert len(printed) == 3 and all(str(uuid.UUID(line)) == line for line in printed)  # only logInfo lines
    lines = [line for line in done.stderr.splitlines() if line.startswith("run ")]
    assert len(lines) == 1 and lines[0].endswith(": staged 3 calls (GET /api/v1/requests/"
                                                 f"{lines[0].split()[1].rstrip(':')})")
    run_id = uuid.UUID(lines[0].split()[1].rstrip(":"))
    run = bench.db.store.request(run_id)
    assert run is not None and run["id"] == run_id and run["origin"] == "js"
    assert (run["schema_id"], run["method"], run["record_count"]) == ("dem:sampleTable", "Ingest", 3)
    assert [str(row["uuid"]) for row in run["records"]] == printed  # the calls' records, in commit order
    assert len({row["request_id"] for row in run["records"]}) == 3  # each call keeps its own request id
    call = bench.db.store.request(run["records"][1]["request_id"])
    assert call is not None and call["run_id"] == run_id and len(call["records"]) == 1
