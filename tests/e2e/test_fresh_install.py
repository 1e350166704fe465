"""README.md's two commands on a fresh virtual environment from a clean clone: install, then `ferry serve` starts on
its embedded defaults and answers `/r/test`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_clone_install_and_serve(tmp_path: Path) -> None:
    clone = tmp_path / "ferry"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FERRY_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "XDG_DATA_HOME": str(tmp_path / "xdg"),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    # The README's first command, as written (the pip cache keeps this to a few seconds after the first run).
    install = subprocess.run(["pip", "install", "--quiet", "-e", "."], cwd=clone, env=env, capture_output=True,
                             text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(["ferry", "serve", "--port", str(port)], cwd=clone, stdout=out,
                                  stderr=subprocess.STDOUT, env={**env, "FERRY_ADMIN_PASSWORD": "secret"})
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/r/test", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert reply.status_code == 200
        text = log.read_text()
        assert f"ferry: creating data folder {tmp_path / 'xdg' / 'ferry'} (per-user default)" in text
        assert "operator admin created from FERRY_ADMIN_PASSWORD" in text
        assert (tmp_path / "xdg" / "ferry" / "postgres" / "PG_VERSION").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=60) == 0, log.read_text()
        finally:
            if server.poll() is None:
                server.kill()
