"""README.md's first session, pasted as it is: its sh, Python and JavaScript blocks run against the `ferry serve`
the sh block starts (on a free port instead of 8080, in a fresh folder and user data home)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of one language."""
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readme_blocks_are_complete() -> None:
    [first] = [block for block in blocks("sh") if "ferry init" in block]
    assert "people.ndjson >" in first or "> people.ndjson" in first  # the file it ingests is created
    [js] = blocks("js")
    assert 'require("@adobe/acc-js-sdk")' in js and "(async () => {" in js
    for block in (js, *blocks("python")):
        assert '"_key": "@email"' in block or '_key: "@email"' in block


def test_first_session_runs_as_written(tmp_path: Path, node_sdk: Path, unavailable: Callable[[str], NoReturn]) -> None:
    if shutil.which("curl") is None:
        unavailable("curl is needed to run the README's first session")
    port = _port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("FERRY_") or key == "FERRY_HYPOTHESIS_EXAMPLES"}
    env.update({"XDG_DATA_HOME": str(tmp_path / "xdg"), "FERRY_PORT": str(port), "COLUMNS": "200",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "NODE_PATH": str(node_sdk / "node_modules")})
    project = tmp_path / "project"
    project.mkdir()

    def local(block: str) -> str:
        return block.replace("localhost:8080", f"localhost:{port}")

    [first] = [block for block in blocks("sh") if "ferry init" in block]
    [python_block] = blocks("python")
    [js_block] = blocks("js")
    pid_file = project / "ferry-data" / "ferry.pid"
    try:
        # Files, not pipes: the server the block leaves running in the background holds its output open.
        out, err = tmp_path / "sh.out", tmp_path / "sh.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            shell = subprocess.run(["bash", "-euo", "pipefail", "-c", local(first)], cwd=project, env=env,
                                   stdout=stdout, stderr=stderr, timeout=300)
        assert shell.returncode == 0, out.read_text() + err.read_text()
        assert '"testcol1":"hello"' in out.read_text().replace(" ", ""), out.read_text()
        for _ in range(2):  # twice: _key keeps one record per email
            script = subprocess.run([sys.executable, "-c", python_block], cwd=project, env=env,
                                    capture_output=True, text=True, timeout=120)
            assert script.returncode == 0, script.stderr
            node = subprocess.run(["node", "-e", local(js_block)], cwd=project, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert node.returncode == 0, node.stderr
        ferry = [sys.executable, "-m", "ferry.cli"]
        sync = subprocess.run([*ferry, "sync", "--wait"], cwd=project, env=env, capture_output=True, text=True,
                              timeout=120)
        assert sync.returncode == 0, sync.stdout + sync.stderr
        status = subprocess.run([*ferry, "status", "--json"], cwd=project, env=env, capture_output=True, text=True,
                                timeout=60)
        rows = {row["schema"]: row for row in json.loads(status.stdout)}
        # a@x.com (JS, twice), b@x.com (Python: one plain Ingest per run, then keyed updates), c@x.com (file).
        counts = rows["nms:recipient"]["counts"]
        assert counts["failed"] == 0 and counts["staged"] == 0
        unicity = subprocess.run([*ferry, "doctor", "unicity", "nms:recipient", "--json"], cwd=project, env=env,
                                 capture_output=True, text=True, timeout=60)
        duplicated = [json.loads(line)["value"] for line in unicity.stdout.splitlines() if line.strip()]
        assert "a@x.com" not in duplicated and "c@x.com" not in duplicated, unicity.stdout
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
    assert not pid_file.exists()
