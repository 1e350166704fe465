"""The console driven in headless Chromium (Debian's `chromium`, through Playwright; no browser download) against
a real uvicorn server: log in, watch the overview change after an ingest and a sync, open a run, re-queue a failed
row and see it synced, look up a UUID, log out; then the Workflows pages (Run now, a run's log, a failed run, an
operator seeing only its workflows). A screenshot of each page lands in test-artifacts/console/.
Then, on one server whose warehouse is down: `/docs` lists the API's operations, the console shows the outage."""

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
from ferry.sync import runs
from ferry.workflows import definitions, list_runs
from ferry.workflows.schedule import Schedule
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
        # The first pass finds nothing to read: counted, not recorded (an idle run of the schedule).
        while not runs.idle_counts().get(("ffdaReplicateStagingData", SCHEMA, "empty")):
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


# -- what an operator sees: /docs lists the operations; the console shows an outage (one server for both) ---------

DOWN_WAREHOUSE = "postgresql://ferry@127.0.0.1:1/nowhere?connect_timeout=1"


@pytest.fixture(scope="module")
def outage(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = Settings.from_env(database_url=new_database(), data_dir=tmp_path_factory.mktemp("outage"),
                                 warehouse_url=DOWN_WAREHOUSE, sync_interval=0)
    with StagingDatabase.open(settings) as db:
        runtime = Runtime(settings, db=db)
        runtime.auth.add_operator("root", "pw", admin=True)
        runtime.enable_scheduler()
        with Live(runtime) as server:
            yield server


@pytest.fixture(scope="module")
def browser(unavailable: Callable[[str], NoReturn]) -> Iterator[object]:
    executable = _chromium(unavailable)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_docs_render_the_operations(outage: Live, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for path in ("/docs", "/redoc"):  # /redoc leads to the same page
        page.goto(f"{outage.url}{path}")
        expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
        assert page.locator(".opblock").count() > 20
        expect(page.locator("body")).to_contain_text("/api/v1/logon")
        expect(page.locator("body")).not_to_contain_text("Unable to render this definition")
    page.close()


def test_the_console_shows_the_outage_and_the_failed_run(outage: Live, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    outage.ingest([{"email": "down@example.com"}])  # continuous mode: a run starts, and fails
    deadline = time.monotonic() + 60
    while not list_runs(outage.runtime.db.pool, SCHEMA, states=["failed"]):
        assert time.monotonic() < deadline, "no failed run recorded"
        time.sleep(0.2)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page.goto(f"{outage.url}/console/login")
    page.fill("#login", "root")
    page.fill("#password", "pw")
    page.click("button[type=submit]")
    banner = page.locator('#health p[data-part="warehouse"]')
    expect(banner).to_contain_text("Warehouse down")
    row = page.locator(f'tr[data-schema="{SCHEMA}"]')
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("FRY-500001")
    expect(row).to_contain_text("continuous")
    expect(row).not_to_contain_text("another worker is syncing")
    page.goto(f"{outage.url}/console/runs?state=failed")
    states = page.locator("#runs tbody .badge").all_inner_texts()
    assert states and set(states) == {"failed"}
    expect(page.locator("#health")).to_contain_text("Warehouse down")  # on every page
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-artifacts" / "console" / "outage.png"),
                    full_page=True)
    page.close()


# -- the Workflows pages -------------------------------------------------------------------------------------------

IMPORTER = """logInfo("importing for " + (vars.who || "the schedule"));
xtk.session.Ingest(<recipient xtkschema="nms:recipient" email="w@example.com"/>);
logInfo("imported 1");
"""


@pytest.fixture
def live_workflows(staging_db: StagingDatabase, settings: Settings) -> Iterator[Live]:
    runtime = Runtime(settings, db=staging_db)
    runtime.auth.add_operator("root", "pw", admin=True)
    runtime.auth.add_operator("loader", "pw", schemas=["nms:recipient"])
    pool = staging_db.pool
    definitions.add(pool, "importer", IMPORTER, schedule=Schedule(every_seconds=3600), operator_login="loader")
    definitions.add(pool, "broken", 'logInfo("starting");\nnoSuchFunction();\n', schedule=Schedule(cron="0 2 * * *"))
    with Live(runtime) as server:
        yield server


def test_workflow_pages_in_a_real_browser(live_workflows: Live, browser: object) -> None:
    live = live_workflows
    from playwright.sync_api import Browser, Page, expect

    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def login(browser: Browser, who: str) -> Page:
        page = browser.new_page(viewport={"width": 1280, "height": 860}, java_script_enabled=False)
        page.goto(f"{live.url}/console/workflows")
        expect(page).to_have_url(f"{live.url}/console/login")
        page.fill("#login", who)
        page.fill("#password", "pw")
        page.click("button[type=submit]")
        page.click("nav >> text=Workflows")
        return page

    assert isinstance(browser, Browser)
    page = login(browser, "root")
    importer = page.locator('#workflows tr[data-workflow="importer"]')
    expect(importer).to_contain_text("every 1h")
    expect(importer.locator("td[data-next]")).to_contain_text("in 60 min")
    expect(importer.locator("td[data-outcome]")).to_contain_text("never ran")
    expect(page.locator('#workflows tr[data-workflow="broken"]')).to_contain_text("cron 0 2 * * *")
    shot(page, "20-workflows")

    # Run now: the run's page, its log and the call it staged.
    importer.locator("button", has_text="Run now").click()
    expect(page.locator("#run")).to_contain_text("succeeded")
    expect(page.locator("#log")).to_contain_text("importing for the schedule")
    expect(page.locator("#log")).to_contain_text("imported 1")
    expect(page.locator("#run")).to_contain_text("console (root)")
    shot(page, "21-workflow-run")
    page.click("nav >> text=Workflows")
    expect(page.locator('#workflows tr[data-workflow="importer"] td[data-outcome]')).to_contain_text(
        "succeeded")

    # A failed run keeps its log, its coded error and the script's line.
    page.locator('#workflows tr[data-workflow="broken"] button', has_text="Run now").click()
    expect(page.locator("#run")).to_contain_text("failed")
    expect(page.locator("#run")).to_contain_text("FRY-130001")
    expect(page.locator("#run")).to_contain_text("line 2")
    expect(page.locator("#log")).to_contain_text("starting")
    shot(page, "22-workflow-failed")
    page.locator("#run a", has_text="broken").click()
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    shot(page, "23-workflow")
    page.close()

    # An operator sees only the workflows that run as an operator whose rights it holds.
    page = login(browser, "loader")
    expect(page.locator("#workflows tbody tr")).to_have_count(1)
    expect(page.locator('#workflows tr[data-workflow="importer"]')).to_contain_text("succeeded")
    page.goto(f"{live.url}/console/workflows/broken")
    expect(page.locator("main")).to_contain_text("FRY-140001")
