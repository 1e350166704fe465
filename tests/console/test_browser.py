"""The console driven in headless Chromium (Debian's `chromium`, through Playwright; no browser download) against
a real uvicorn server: log in, watch the overview change after an ingest and a sync, open a run, re-queue a failed
row and see it synced, look up a UUID, log out. A screenshot of each page lands in test-artifacts/console/."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import uvicorn

from ferry.config import Settings
from ferry.server.app import create_app, serving_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase
from ferry.subscriptions import services
from ferry.workflows import list_runs
from outcome_fakes import record_outcome

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCHEMA = "nms:recipient"


def _chromium(unavailable: Callable[[str], NoReturn]) -> str:
    """Debian's chromium; a missing browser or Playwright fails under CI=true and skips elsewhere."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    missing = []
    if path is None:
        missing.append("chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        unavailable("browser tests need " + " and ".join(missing))
    assert path is not None
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Live:
    """A uvicorn server in a thread around `create_app(Runtime(settings))`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(serving_app(create_app(runtime)), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="console-uvicorn", daemon=True)

    def __enter__(self) -> Live:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def ingest(self, records: list[dict[str, Any]]) -> list[str]:
        """Stage records through the REST API (a real HTTP call); returns the new UUIDs."""
        with httpx.Client(base_url=self.url) as client:
            body = client.post("/api/v1/logon", json={"login": "root", "password": "pw"}).json()
            headers = {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}
            reply = client.post(f"/api/v1/ingest/{SCHEMA}", json=records, headers=headers)
            assert reply.status_code == 200, reply.text
            return [part for part in reply.json()["result"].split(",") if part]

    def fail(self, row_uuid: str) -> None:
        """A poison row: marked failed the way the sync marks a row the warehouse rejected."""
        schema = self.runtime.db.registry.get(SCHEMA)
        assert schema is not None
        record_outcome(self.runtime.db.url, schema, row_uuid, "failed",
                       "warehouse rejected the row: value too long for column email")


@pytest.fixture
def live(staging_db: StagingDatabase, settings: Settings) -> Iterator[Live]:
    runtime = Runtime(settings, db=staging_db)
    runtime.auth.add_operator("root", "pw", admin=True)
    runtime.enable_scheduler()  # as `ferry serve` does: a first pass right away, then every sync_interval
    with Live(runtime) as server:
        deadline = time.monotonic() + 30
        while not [run for run in list_runs(runtime.db.pool, SCHEMA) if run["state"] == "succeeded"]:
            assert time.monotonic() < deadline, "the scheduler's first pass did not run"
            time.sleep(0.1)
        yield server


def test_console_in_a_real_browser(live: Live, unavailable: Callable[[str], NoReturn]) -> None:
    executable = _chromium(unavailable)
    from playwright.sync_api import Page, expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def count(page: Page, state: str) -> str:
        return page.locator(f'tr[data-schema="{SCHEMA}"] td[data-count="{state}"]').inner_text().strip()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            # Without JavaScript: every page and form must work as plain HTML.
            page = browser.new_page(viewport={"width": 1280, "height": 860}, java_script_enabled=False)
            # Without a session every page leads to the login form.
            page.goto(f"{live.url}/console/runs")
            expect(page).to_have_url(f"{live.url}/console/login")
            shot(page, "01-login")
            page.fill("#login", "root")
            page.fill("#password", "pw")
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{live.url}/console")
            assert count(page, "staged") == "0"
            expect(page.locator(f'tr[data-schema="{SCHEMA}"]')).to_contain_text("in 60 min")  # the next pass

            # An ingest shows up as staged rows; one of them is a poison row.
            poison, *good = live.ingest([{"email": f"user{i}@example.com", "firstName": f"User {i}"}
                                         for i in range(3)])
            live.fail(poison)
            page.reload()
            assert (count(page, "staged"), count(page, "failed")) == ("2", "1")
            shot(page, "02-overview-staged")

            # Sync now: the run page shows what was applied; the overview moves on.
            page.locator(f'tr[data-schema="{SCHEMA}"] button', has_text="Sync now").click()
            expect(page.locator("#run")).to_contain_text("succeeded")
            assert page.locator('#run dd[data-count="inserted"]').inner_text() == "2"
            shot(page, "03-run")
            page.click("nav >> text=Overview")
            assert (count(page, "staged"), count(page, "synced"), count(page, "failed")) == ("0", "2", "1")
            assert page.locator("svg.chart").count() == 2
            shot(page, "04-overview-synced")

            # Runs history, then one run's detail.
            page.click("nav >> text=Runs")
            expect(page.locator("#runs")).to_contain_text("ffdaReplicateStagingData")
            shot(page, "05-runs")
            page.locator("#runs tbody tr a").first.click()
            expect(page.locator("#run")).to_contain_text("ffdaReplicateStagingData")

            # The failed row: reason, values, call; re-queue it.
            page.click("nav >> text=Overview")
            page.locator(f'tr[data-schema="{SCHEMA}"] td[data-count="failed"] a').click()
            row = page.locator(f'#rows tr[data-uuid="{poison}"]')
            expect(row).to_contain_text("value too long")
            expect(row).to_contain_text("user0@example.com")
            shot(page, "06-failed-rows")
            row.locator('button[data-action="requeue"]').click()
            expect(page.locator(".flash")).to_contain_text("re-queued")
            expect(page.locator(f'#rows tr[data-uuid="{poison}"]')).to_have_count(0)

            # The next sync applies it.
            page.click("nav >> text=Overview")
            assert (count(page, "staged"), count(page, "failed")) == ("1", "0")
            page.locator(f'tr[data-schema="{SCHEMA}"] button', has_text="Sync now").click()
            assert page.locator('#run dd[data-count="inserted"]').inner_text() == "1"
            page.click("nav >> text=Overview")
            assert (count(page, "staged"), count(page, "synced"), count(page, "failed")) == ("0", "3", "0")

            # Look the row up: received, console re-queue, claimed, applied.
            page.click("nav >> text=Lookup")
            page.fill("#q", poison)
            page.click("form.filters button")
            history = page.locator("#history")
            for step in ("received", "console requeue", "claimed", "applied"):
                expect(history).to_contain_text(step)
            expect(page.locator("#record")).to_contain_text("synced")
            shot(page, "07-lookup-record")
            page.locator("#record a.mono").first.click()  # the call it came from
            expect(page.locator("#call")).to_contain_text("Ingest")
            shot(page, "08-lookup-call")

            services.add(live.runtime.db.pool, "newsletter", label="The newsletter")
            page.click("nav >> text=Schemas")
            expect(page.locator('#services tr[data-service="newsletter"]')).to_contain_text("The newsletter")
            expect(page.locator(f'[data-schema="{SCHEMA}"]')).to_contain_text("email")
            shot(page, "09-schemas")

            # Log out: the session is revoked and the pages lead to the login form again.
            page.click("header button")
            expect(page).to_have_url(f"{live.url}/console/login")
            page.goto(f"{live.url}/console")
            expect(page).to_have_url(f"{live.url}/console/login")
        finally:
            browser.close()

    rows = live.runtime.warehouse.read(live.runtime.registry.get(SCHEMA))  # type: ignore[arg-type]
    assert sorted(row["email"] for row in rows) == [f"user{i}@example.com" for i in range(3)]
    assert len(good) == 2
