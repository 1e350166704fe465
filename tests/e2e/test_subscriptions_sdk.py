"""`NLWS.nmsSubscription.subscribe / unsubscribe` from the real `@adobe/acc-js-sdk` against a real `ferry serve`,
then `startReplicateStagingData("nms:subscription")` and the history over REST."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg_pool import ConnectionPool

from ferry.subscriptions import services


def test_sdk_subscribe_unsubscribe(node_sdk: Path, launch: Any, new_database: Callable[[], str],
                                   tmp_path: Path) -> None:
    start, stop = launch
    node = shutil.which("node")
    assert node is not None
    db_url = new_database()
    server = start(db_url, tmp_path / "serve", FERRY_SYNC_INTERVAL="3600")
    try:
        with ConnectionPool(db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
            services.add(pool, "news", channel="email")
            services.add(pool, "alerts", channel="sms")
        result = subprocess.run([node, str(node_sdk / "subscribe.js")], capture_output=True, text=True, timeout=120,
                                cwd=node_sdk, env={"ACC_URL": server.url, "PATH": str(Path(node).parent)})
        steps = {s["step"]: s["value"] for s in map(json.loads, filter(None, result.stdout.splitlines()))}
        assert result.returncode == 0, f"{steps}\n{result.stderr}\n{server.log.read_text()}"
        assert steps["subscribe"] is None and steps["unsubscribe"] is None and steps["replicate"] is None
        assert steps["fault"].startswith("SOP-330011") and "FRY-110001" in steps["fault"]
        with psycopg.connect(db_url) as conn:
            rows = conn.execute('SELECT "serviceName", action, origin, _state, _reason '
                                "FROM ferry.rows_nms_subscription ORDER BY _seq").fetchall()
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
        assert stop(server) == 0, server.log.read_text()
