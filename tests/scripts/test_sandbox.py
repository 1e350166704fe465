"""A script is untrusted code: runaways stop with their code while the server keeps answering; the engine offers
no file, network, process, environment or Python access."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ferry.config import Settings
from ferry.scripts import runner
from ferry.scripts.api import ScriptApi
from ferry.scripts.results import ScriptResult
from ferry.scripts.runner import run_script
from script_bench import ScriptBench

RUNAWAYS = {
    "endless loop": ("for (;;) {}", "FRY-130002", "timed_out"),
    "exhausted heap": ("var kept = []; for (;;) kept.push(new Array(100000).fill(kept.length));", "FRY-130003",
                       "failed"),
    "catastrophic regex": ('/^(a+)+$/.test("a".repeat(40) + "b");', "FRY-130002", "timed_out"),
    "swallows every exception": ('for (;;) { try { xtk.session.Ingest(<recipient nope="1" xtkschema="nms:recipient"/>);'
                                 ' for (;;) {} } catch (e) {} finally { continue; } }', "FRY-130002", "timed_out"),
}


@pytest.mark.anyio
async def test_runaways_stop_with_their_code_while_ingest_and_health_answer(in_process: Any,
                                                                           settings: Settings) -> None:
    async with in_process(settings) as (runtime, client):
        admin = runtime.auth.get_operator("admin")
        api = ScriptApi.for_runtime(runtime, admin, asyncio.get_running_loop())
        # The server's own path works from a script too: one Ingest through the group committer.
        first = await asyncio.to_thread(run_script, 'logInfo(xtk.session.Ingest(<recipient email="s@x.com" '
                                        'xtkschema="nms:recipient"/>));', filename="one.js", api=api)
        assert first.outcome == "succeeded" and len(first.request_ids) == 1
        runs = {name: asyncio.create_task(asyncio.to_thread(run_script, source, filename=f"{name}.js", api=api,
                                                             time_limit=5, memory_limit=32 << 20))
                for name, (source, _, _) in RUNAWAYS.items()}
        reply = await client.post("/api/v1/logon", json={"login": "admin", "password": "secret"})
        body = reply.json()
        headers = {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}
        answered = 0
        while not all(task.done() for task in runs.values()):
            health = await client.get("/healthz")
            assert health.status_code == 200, health.text
            staged = await client.post("/api/v1/ingest/nms:recipient", json={"email": f"{answered}@in-flight.com"},
                                       headers=headers)
            assert staged.status_code in (200, 201, 202), staged.text
            answered += 1
            await asyncio.sleep(0.05)
        assert answered >= 2  # calls went on while the runaways ran (each one asserted above)
        for name, (_, code, outcome) in RUNAWAYS.items():
            result: ScriptResult = runs[name].result()
            assert (result.outcome, result.error and result.error.code.code) == (outcome, code), (name, result)


@pytest.mark.parametrize("attempt", [
    'std.loadFile("/etc/passwd")', 'os.open("/etc/passwd", 0)', 'require("fs").readFileSync("/etc/passwd")',
    'new XMLHttpRequest()', 'fetch("http://127.0.0.1:1/")', 'new WebSocket("ws://127.0.0.1:1/")',
    'process.env.HOME', 'std.getenv("HOME")', 'os.exec(["/bin/true"])', '__ferry_host("call", "{}")',
    'globalThis.__ferry_host("call", "{}")', '_quickjs.Context()', 'Packages.java.lang.System.getenv()',
])
def test_the_engine_reaches_nothing_but_the_api(bench: ScriptBench, attempt: str) -> None:
    result = bench.run(f'logInfo("start");\n{attempt};\nlogInfo("reached");')
    assert result.outcome == "failed" and result.error is not None
    assert result.error.code.code in ("FRY-130001", "FRY-130004"), result.error
    assert result.line == 2 and [line.message for line in result.logs] == ["start"]


def test_dynamic_import_loads_no_file(bench: ScriptBench, tmp_path: Any) -> None:
    module = tmp_path / "evil.js"
    module.write_text("globalThis.pwned = true; export var x = 1;")
    result = bench.run(f'var p = import({str(module)!r}); logInfo(typeof pwned);')
    assert [line.message for line in result.logs] == ["undefined"]


def _cpu_ticks(pid: str) -> int:
    """The user CPU time of process `pid` so far, in clock ticks (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11])
    except (OSError, IndexError, ValueError):
        return 0


def test_a_killed_parent_leaves_no_runaway_worker() -> None:
    code = ("from ferry.scripts.runner import run_script\n"
            "class Api:\n    def serve(self, op, args): return ''\n"
            "run_script('for (;;) {}', filename='x.js', api=Api(), time_limit=600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        workers: list[str] = []
        for _ in range(300):
            workers = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
            # Killed once the worker runs the loop (0.3 s of CPU): a worker still starting would also end when its
            # pipe closes, and only one already looping needs the parent-death signal.
            if workers and _cpu_ticks(workers[0]) >= 30:
                break
            time.sleep(0.1)
        assert workers, "no worker started"
    finally:
        parent.kill()
        parent.wait()
    for _ in range(100):
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive


class _Quiet:
    def serve(self, op: str, args: dict[str, Any]) -> Any:
        return ""


def test_a_worker_starts_without_site_from_the_folders_ferry_and_its_engine_come_from() -> None:
    command = runner.worker_command(123)
    assert command[1:4] == ["-I", "-S", "-c"] and command[5] == "123"
    assert any((Path(folder) / "ferry" / "scripts" / "worker.py").is_file() for folder in command[6:])
    result = run_script('logInfo(typeof xtk.session.Ingest)', filename="x.js", api=_Quiet(), time_limit=60)
    assert result.outcome == "succeeded" and [line.message for line in result.logs] == ["function"]


def test_a_worker_starts_with_site_when_those_folders_are_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_worker_paths", [])
    assert runner.worker_command(123)[1:] == ["-I", "-m", "ferry.scripts.worker", "123"]
    result = run_script('logInfo("started")', filename="x.js", api=_Quiet(), time_limit=60)
    assert result.outcome == "succeeded" and [line.message for line in result.logs] == ["started"]
