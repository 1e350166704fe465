#!/usr/bin/env python3
"""Per-stage cost of a script's unitary `xtk.session.Ingest` loop (bench/run's scripts row), wall and CPU per call.

    bench/script_stages.py [--calls 500] [--runs 2]

Runs the bench's UNITARY_JS with `run_script` as `ferry js` does (fresh worker, calls staged one transaction each)
with the stages stamped by wrappers (in the worker: its `Worker.host`, started through a wrapper module; in this
process: the runner's reads and writes of the pipe and `ScriptApi.stage`; the product code carries no timing), then
the Python `Session` making the same calls. Stages per call (median µs): js (the script between two calls: E4X
literal, toXMLString, the shim), worker bridge (inside the worker's host function, less the parent's span: encode,
the two pipe hops, decode), parent before stage (decode, parse, build_call, rights), stage (statement + commit),
parent after stage (the answer encoded and written). CPU columns are each thread's own CPU time (work after each
wait runs on cold caches: on this box about 3 times its warm cost). PostgreSQL from FERRY_BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Databases, soap_record, staging  # noqa: E402
from scenarios.scripts import UNITARY_JS  # noqa: E402

# The worker, with its host function stamped; the stamps are written to STAMPS when the run ends.
WRAPPER = """
import json, sys, time
import ferry.scripts.worker as W
stamps, host, send, path = [], W.Worker.host, W.Worker.send, sys.argv[2]
def timed(self, kind, payload):
    if kind != "call":
        return host(self, kind, payload)
    a, ca = time.monotonic_ns(), time.thread_time_ns()
    out = host(self, kind, payload)
    stamps.append((a, time.monotonic_ns(), ca, time.thread_time_ns()))
    return out
def sending(self, message):
    if message.get("t") == "done":
        with open(path, "w") as f:
            json.dump(stamps, f)
    send(self, message)
W.Worker.host, W.Worker.send, W._limit_process = timed, sending, lambda limit: None
sys.argv = sys.argv[:2]
W.main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from ferry.config import Settings
    from ferry.scripts import runner
    from ferry.scripts.api import ScriptApi
    from ferry.session import Session

    folder = Path(tempfile.mkdtemp(prefix="ferry-stages-"))
    stamps_file = folder / "stamps.json"

    def start(cls: Any) -> Any:
        command = [sys.executable, "-I", "-c", WRAPPER, str(os.getpid()), str(stamps_file)]
        return cls(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env={}, cwd=os.sep, close_fds=True, start_new_session=True))

    parent: list[tuple[str, int, int]] = []
    next_message, send = runner._Worker.next, runner._Worker.send

    def stamped_next(self: Any, timeout: float) -> Any:
        message = next_message(self, timeout)
        parent.append(("got", time.monotonic_ns(), time.thread_time_ns()))
        return message

    def stamped_send(self: Any, message: dict[str, Any]) -> None:
        send(self, message)
        parent.append(("sent", time.monotonic_ns(), time.thread_time_ns()))

    runner._Worker.start = classmethod(start)  # type: ignore[assignment]
    runner._Worker.next = stamped_next  # type: ignore[method-assign]
    runner._Worker.send = stamped_send  # type: ignore[method-assign]
    dbs = Databases()
    try:
        url = dbs.new("stages")
        db = staging(url, folder / "cli")
        settings = Settings.from_env(database_url=url, data_dir=folder / "cli")
        n = args.calls
        for run in range(args.runs):
            api = ScriptApi.for_staging(db, settings, warehouse=lambda: None)
            stage = api.stage
            staged: list[tuple[int, int, int, int]] = []

            def stamped_stage(call: Any, stage: Any = stage, staged: list[tuple[int, int, int, int]] = staged) -> None:
                a, ca = time.monotonic_ns(), time.thread_time_ns()
                stage(call)
                staged.append((a, time.monotonic_ns(), ca, time.thread_time_ns()))

            api.stage = stamped_stage
            parent.clear()
            began = time.monotonic_ns()
            result = runner.run_script(UNITARY_JS, filename="bench.js", api=api,
                                       vars={"count": str(n), "tag": uuid.uuid4().hex}, time_limit=3600)
            ended = time.monotonic_ns()
            if result.outcome != "succeeded":
                raise SystemExit(f"the script failed: {result.error}")
            host = json.loads(stamps_file.read_text())
            got = [(t, c) for kind, t, c in parent if kind == "got"]
            sent = [(t, c) for kind, t, c in parent if kind == "sent"][1:]  # the first is the start message
            rows: dict[str, list[float]] = {}

            def add(name: str, value: int, rows: dict[str, list[float]] = rows) -> None:
                rows.setdefault(name, []).append(value / 1e3)

            for i in range(1, n):
                add("js, wall", host[i][0] - host[i - 1][1])
                add("js, cpu", host[i][2] - host[i - 1][3])
                add("worker bridge (host less parent span), wall", host[i][1] - host[i][0] - (sent[i][0] - got[i][0]))
                add("worker bridge, cpu", host[i][3] - host[i][2])
                add("parent before stage, wall", staged[i][0] - got[i][0])
                add("parent before stage, cpu", staged[i][2] - got[i][1])
                add("stage, wall", staged[i][1] - staged[i][0])
                add("stage, cpu", staged[i][3] - staged[i][2])
                add("parent after stage, wall", sent[i][0] - staged[i][1])
                add("parent after stage, cpu", sent[i][1] - staged[i][3])
            print(f"run {run}: {n} calls in {(ended - began) / 1e6:.0f} ms; start to first call "
                  f"{(host[0][0] - began) / 1e6:.1f} ms, last call to end {(ended - host[-1][1]) / 1e6:.1f} ms")
            for name, values in rows.items():
                print(f"  {name:46s} {statistics.median(values):7.1f} µs")
            session = Session(db, origin="python")
            tag = uuid.uuid4().hex
            began, cpu = time.monotonic_ns(), time.thread_time_ns()
            for i in range(n):
                session.ingest(soap_record(f"{tag}-{i}"))
            print(f"  Session: {(time.monotonic_ns() - began) / 1e3 / n:.0f} µs per call, "
                  f"{(time.thread_time_ns() - cpu) / 1e3 / n:.0f} µs CPU")
        db.close()
    finally:
        dbs.drop()


if __name__ == "__main__":
    main()
