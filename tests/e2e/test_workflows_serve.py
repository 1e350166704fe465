"""Workflow scripts in real `ferry serve` processes: two servers on one staging database run each tick of a
workflow once, and the unmodified Adobe SDK starts and stops one by name (`NLWS.xtkWorkflow.start(…)`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from ferry.workflows import definitions, script_runs
from ferry.workflows.schedule import Schedule

pytestmark = pytest.mark.e2e

COUNTER = 'instance.vars.n = (instance.vars.n || 0) + 1;\nlogInfo(instance.vars.n + " " + (vars.who || "nobody"));\n'


@pytest.fixture(scope="module")
def pair(launch: Any, new_database: Callable[[], str], new_postgres_url: Callable[[], str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, ConnectionPool]]:
    """Two servers (role all) on one staging database and one PostgreSQL warehouse."""
    start, stop = launch
    db_url, warehouse = new_database(), new_postgres_url()
    folder = tmp_path_factory.mktemp("workflow-servers")
    first = start(db_url, folder / "one", FERRY_WAREHOUSE_URL=warehouse, FERRY_SYNC_INTERVAL="3600")
    try:
        second = start(db_url, folder / "two", FERRY_WAREHOUSE_URL=warehouse, FERRY_SYNC_INTERVAL="3600")
        try:
            with ConnectionPool(db_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
                yield first, second, pool
        finally:
            assert stop(second) == 0, second.log.read_text()
    finally:
        assert stop(first) == 0, first.log.read_text()


def test_two_servers_run_each_tick_once(pair: tuple[Any, Any, ConnectionPool]) -> None:
    _, _, pool = pair
    definitions.add(pool, "ticker", COUNTER, schedule=Schedule(every_seconds=1))
    deadline = time.monotonic() + 60
    while len(runs := script_runs.list_runs(pool, "ticker", limit=100, with_log=True)) < 4 \
            or any(run["state"] == "running" for run in runs):
        assert time.monotonic() < deadline, runs
        time.sleep(0.2)
    definitions.set_enabled(pool, "ticker", False)
    runs.sort(key=lambda run: run["started_at"])
    ticks = [run["scheduled_for"] for run in runs]
    assert len(ticks) == len(set(ticks))  # no tick ran twice, on either server
    assert all(run["state"] == "succeeded" for run in runs)
    # One run at a time, each seeing the previous one's instance.vars: 1, 2, 3, … without a gap or a repeat.
    assert [run["log"][0]["message"] for run in runs] == [f"{n} nobody" for n in range(1, len(runs) + 1)]


def test_the_adobe_sdk_starts_and_stops_a_workflow(pair: tuple[Any, Any, ConnectionPool], node_sdk: Path) -> None:
    first, _, pool = pair
    definitions.add(pool, "counter", COUNTER, schedule=Schedule(cron="0 0 1 1 *"))
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run([node, str(node_sdk / "workflow.js")], capture_output=True, text=True, timeout=120,
                            cwd=node_sdk, env={"ACC_URL": first.url, "PATH": str(Path(node).parent)})
    steps = {s["step"]: s["value"] for s in map(json.loads, filter(None, result.stdout.splitlines()))}
    assert result.returncode == 0, f"{steps}\n{result.stderr}\n{first.log.read_text()}"
    assert steps["start"] is None and steps["startWithParameters"] is None and steps["stop"] is None
    assert "FRY-140001" in steps["fault"]
    assert steps["runs"] == [["soap", "succeeded", {"who": "sdk"}], ["soap", "succeeded", {}]]
    logs = [run["log"][0]["message"] for run in script_runs.list_runs(pool, "counter", with_log=True)]
    assert logs == ["2 sdk", "1 nobody"]
