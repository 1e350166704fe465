"""Logon throttling: per login and per address, 429 with Retry-After, shared through staging, unlocked by time or
`ferry operator unlock`, counted in metrics and logged without the password."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from ferry.auth import Authenticator
from ferry.auth.throttle import ThrottlePolicy
from ferry.cli.main import app as cli

pytestmark = pytest.mark.anyio

PASSWORD = "pw-Secret-1"  # tests/security/conftest.py's
WRONG = "Wrong-Guess-42"


@pytest.fixture
def site_settings() -> dict[str, Any]:
    return {"logon_free_attempts": 3, "logon_address_free_attempts": 1000, "logon_base_delay": 60.0}


def test_lock_grows_exponentially_and_is_capped() -> None:
    policy = ThrottlePolicy(login_free=3, base_delay=1.0, max_delay=900.0)
    assert [policy.lock_seconds(n, 3) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 16]
    assert policy.lock_seconds(60, 3) == 900.0


async def test_login_locks_after_free_failures_on_every_way_in(site: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ferry.auth.authenticator")
    for _ in range(3):
        reply = await site.client.post("/api/v1/logon", json={"login": "ops1", "password": WRONG})
        assert reply.status_code == 401
    # Locked now: even the right password is refused, with 429 and Retry-After, before it is checked.
    locked = await site.client.post("/api/v1/logon", json={"login": "ops1", "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "FRY-600012"
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    soap = await site.soap("xtk:session", "Logon", f"<login>ops1</login><password>{PASSWORD}</password>")
    assert soap.status_code == 429 and "FRY-600012" in soap.text and "Retry-After" in soap.headers
    page = await site.client.get("/console/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    console = await site.client.post("/console/login", data={"login": "ops1", "password": PASSWORD, "csrf": token})
    assert console.status_code == 429 and "Retry-After" in console.headers
    # Other logins are not affected.
    assert (await site.client.post("/api/v1/logon", json={"login": "admin", "password": PASSWORD})).status_code == 200
    # Counted in the metrics and logged, never with the password.
    metrics = (await site.client.get("/metrics")).text
    assert 'ferry_logons_refused_total{reason="bad_credentials",via="rest"} 3.0' in metrics
    assert 'ferry_logons_refused_total{reason="throttled",via="rest"} 1.0' in metrics
    assert 'ferry_logons_refused_total{reason="throttled",via="soap"} 1.0' in metrics
    assert 'ferry_logons_refused_total{reason="throttled",via="console"} 1.0' in metrics
    lines = [r.getMessage() for r in caplog.records if "logon refused" in r.getMessage()]
    assert len(lines) == 6 and all("'ops1'" in line and "127.0.0.1" in line for line in lines)
    assert not any(WRONG in line or PASSWORD in line for line in lines)


async def test_the_lock_is_shared_by_every_server_on_the_database(site: Any) -> None:
    for _ in range(3):
        await site.client.post("/api/v1/logon", json={"login": "ops1", "password": WRONG})
    # Another server process: its own Authenticator and pool on the same staging database.
    with ConnectionPool(site.db.url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        other = Authenticator(pool, site.runtime.settings)
        with pytest.raises(Exception) as caught:
            other.logon("ops1", PASSWORD, address="10.9.9.9")
        assert getattr(caught.value, "http_status", None) == 429


async def test_unlock_by_time_and_by_command(site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        await site.client.post("/api/v1/logon", json={"login": "ops1", "password": WRONG})
    assert (await site.client.post("/api/v1/logon", json={"login": "ops1", "password": PASSWORD})).status_code == 429
    # Time passing, without waiting: the lock's end moved into the past.
    with psycopg.connect(site.db.url, autocommit=True) as conn:
        conn.execute("UPDATE ferry.logon_throttle SET locked_until = now() - interval '1 second'")
    assert (await site.client.post("/api/v1/logon", json={"login": "ops1", "password": PASSWORD})).status_code == 200
    # Locked again, then `ferry operator unlock ops1`.
    for _ in range(3):
        await site.client.post("/api/v1/logon", json={"login": "ops1", "password": WRONG})
    assert (await site.client.post("/api/v1/logon", json={"login": "ops1", "password": PASSWORD})).status_code == 429
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERRY_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["operator", "unlock", "ops1"], env={"FERRY_DATABASE_URL": site.db.url})
    assert result.exit_code == 0 and "unlocked" in result.output, result.output
    assert (await site.client.post("/api/v1/logon", json={"login": "ops1", "password": PASSWORD})).status_code == 200


@pytest.mark.parametrize("site_settings", [{"logon_free_attempts": 1000, "logon_address_free_attempts": 4,
                                            "logon_base_delay": 60.0}])
async def test_an_address_locks_after_failures_on_many_logins(site: Any) -> None:
    for n in range(4):
        assert (await site.client.post("/api/v1/logon", json={"login": f"guess{n}",
                                                              "password": WRONG})).status_code == 401
    reply = await site.client.post("/api/v1/logon", json={"login": "admin", "password": PASSWORD})
    assert reply.status_code == 429 and "Retry-After" in reply.headers
    # From another address the same login still works (the lock is per address, not global).
    with ConnectionPool(site.db.url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        assert Authenticator(pool, site.runtime.settings).logon("admin", PASSWORD, address="10.1.1.1").operator.admin
