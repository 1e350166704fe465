"""A script has exactly the rights of its operator: one with rights on one schema can do nothing elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ferry.auth import Authenticator, Operator
from script_bench import ScriptBench

ELSEWHERE = {
    "Ingest": ('xtk.session.Ingest(<recipient email="r@x.com" xtkschema="nms:recipient"/>)', "FRY-600003"),
    "IngestExt": ('xtk.session.IngestExt({recipient: {xtkschema: "nms:recipient", _key: "@email", '
                  'email: "r@x.com"}})', "FRY-600003"),
    "Write": ('xtk.session.Write(<recipient email="r@x.com" xtkschema="nms:recipient"/>)', "FRY-600003"),
    "WriteCollection": ('xtk.session.WriteCollection(<recipient-collection xtkschema="nms:recipient">'
                        '<recipient email="r@x.com"/></recipient-collection>)', "FRY-600003"),
    "query": ('xtk.queryDef.create(<queryDef schema="nms:recipient" operation="count"/>).ExecuteQuery()',
              "FRY-400013"),
    "Subscribe": ('nms.subscription.Subscribe("news", <recipient email="r@x.com"/>, true)', "FRY-600003"),
}


@pytest.fixture(scope="module")
def sampler(bench: ScriptBench) -> Operator:
    """An operator with the ingest right on dem:sampleTable only."""
    return Authenticator(bench.db.pool, bench.settings).add_operator("sampler", "pw", schemas=["dem:sampleTable"])


@pytest.mark.parametrize("call", list(ELSEWHERE))
def test_an_operator_with_one_schema_can_do_nothing_elsewhere(bench: ScriptBench, sampler: Operator,
                                                              call: str) -> None:
    source, code = ELSEWHERE[call]
    result = bench.run(f"try {{ {source}; logInfo('done'); }} catch (e) {{ logInfo(e.code); }}", operator=sampler)
    assert [line.message for line in result.logs] == [code]
    assert result.request_ids == []


def test_the_same_operator_works_on_its_own_schema(bench: ScriptBench, sampler: Operator) -> None:
    result = bench.run('xtk.session.Ingest(<sampleTableStg testcol1="mine" xtkschema="dem:sampleTableStg"/>);\n'
                       'logInfo(xtk.queryDef.create(<queryDef schema="dem:sampleTable" operation="count"/>)'
                       '.ExecuteQuery().@count >= 0);', operator=sampler)
    assert result.outcome == "succeeded", result.error
    assert [line.message for line in result.logs] == ["true"]
    request = bench.db.store.request(uuid.UUID(result.request_ids[0]))
    assert request is not None and request["operator"] == "sampler"


def test_ferry_js_runs_as_the_named_operator(bench: ScriptBench, sampler: Operator, tmp_path: Path) -> None:
    script = tmp_path / "elsewhere.js"
    script.write_text('xtk.session.Ingest(<recipient email="r@x.com" xtkschema="nms:recipient"/>);\n')
    env = {**os.environ, "FERRY_DATABASE_URL": str(bench.settings.database_url),
           "FERRY_DATA_DIR": str(bench.settings.data_dir), "FERRY_WAREHOUSE_URL": "duckdb:///:memory:"}
    done = subprocess.run([sys.executable, "-m", "ferry.cli", "js", str(script), "--operator", "sampler"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert f"{script}:1:" in done.stderr and "FRY-600003" in done.stderr and "sampler" in done.stderr
    unknown = subprocess.run([sys.executable, "-m", "ferry.cli", "js", str(script), "--operator", "nobody"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 1 and "FRY-600006" in unknown.stderr
