"""`NLWS.nmsSubscription.subscribe / unsubscribe` from the real `@adobe/acc-js-sdk` against a real `ferry serve`
(the e2e fixtures' server and SDK install), then `startReplicateStagingData("nms:subscription")`."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ferry.subscriptions import services

pytestmark = pytest.mark.e2e
E2E = Path(__file__).parent.parent / "e2e"


def _e2e() -> ModuleType:
    """tests/e2e/conftest.py, loaded by path (start_server, stop_server, NODE_DIR)."""
    name = "ferry_e2e_support"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, E2E / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _node_modules(node_dir: Path) -> tuple[str, Path]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js and npm are required for the SDK end-to-end tests")
        pytest.skip("Node.js / npm not installed")
    if not (node_dir / "node_modules" / "@adobe" / "acc-js-sdk").is_dir():
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=node_dir, capture_output=True,
                                text=True, timeout=300)
        if result.returncode != 0:
            pytest.fail(f"npm ci failed:\n{result.stdout}\n{result.stderr}")
    return node, node_dir / "node_modules"


def test_sdk_subscribe_unsubscribe(new_database: Callable[[], str], tmp_path: Path) -> None:
    support = _e2e()
    node, modules = _node_modules(support.NODE_DIR)
    db_url = new_database()
    server = support.start_server(db_url, tmp_path / "serve", FERRY_SYNC_INTERVAL="3600")
    try:
        with ConnectionPool(db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
            services.add(pool, "news", channel="email")
            services.add(pool, "alerts", channel="sms")
        result = subprocess.run([node, str(Path(__file__).parent / "node" / "subscribe.js")], capture_output=True,
                                text=True, timeout=120, env={"ACC_URL": server.url, "NODE_PATH": str(modules),
                                                             "PATH": str(Path(node).parent)})
        steps = {s["step"]: s["value"] for s in map(json.loads, filter(None, result.stdout.splitlines()))}
        assert result.returncode == 0, f"{steps}\n{result.stderr}\n{server.log.read_text()}"
        assert steps["subscribe"] is None and steps["unsubscribe"] is None and steps["replicate"] is None
        assert steps["fault"].startswith("SOP-330011") and "FRY-110001" in steps["fault"]
        with psycopg.connect(db_url) as conn:
            rows = conn.execute('SELECT "serviceName", action, origin, _state, _reason '
                                "FROM ferry_stg.nms_subscription ORDER BY _seq").fetchall()
        assert rows == [("news", 1, "soap", "synced", None), ("alerts", 1, "soap", "synced", None),
                        ("alerts", 0, "soap", "synced", None), ("alerts", 1, "soap", "synced", None),
                        (None, 0, "soap", "skipped", "recipient not found")]
        tokens = httpx.post(f"{server.url}/api/v1/logon", json={"login": "admin", "password": "secret"}).json()
        headers = {"Authorization": f"Bearer {tokens['sessionToken']}", "X-Security-Token": tokens["securityToken"]}
        history = httpx.get(f"{server.url}/api/v1/recipients/history", params={"email": "a@x.com"},
                            headers=headers).json()["history"]
        assert [(h["service"], h["action"], h["origin"]) for h in history] == [
            ("alerts", "subscribe", "soap"), ("news", "subscribe", "soap"), ("alerts", "unsubscribe", "soap"),
            ("alerts", "subscribe", "soap")]
    finally:
        assert support.stop_server(server) == 0, server.log.read_text()
