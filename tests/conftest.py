"""Shared fixtures: a real PostgreSQL for every test run, a fresh database whenever a test needs one.

PostgreSQL comes from FERRY_TEST_DATABASE_URL when set, else from an embedded server started for the run.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import NoReturn

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ferry.config import Settings
from ferry.server.app import create_app
from ferry.server.process.runtime import Runtime

# Plain helper modules at the top of tests/ (e.g. outcome_fakes) are importable from every test.
sys.path.insert(0, str(Path(__file__).parent))
from ferry.staging import StagingDatabase
from ferry.staging.embedded import EmbeddedPostgres
from ferry.subscriptions import services
from ferry.sync.batches import adbc_uri
from ferry.sync.workflow import RunResult, run_once
from ferry.warehouse import Warehouse


@pytest.fixture(scope="session")
def unavailable() -> Callable[[str], NoReturn]:
    """Report a missing tool or service: a failure under CI (`CI=true`), where everything must be installed, else
    a skip."""

    def report(message: str) -> NoReturn:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)

    return report


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """In this process only, argon2id at its smallest cost: the suite hashes and verifies thousands of passwords
    (0.1 s each at the real 64 MiB / 3 passes, most of a test's setup). Servers started as processes, and
    tests/auth/test_passwords.py, keep the real parameters."""
    from argon2 import PasswordHasher

    from ferry.auth import passwords

    saved = passwords._hasher, passwords._DUMMY_HASH
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("ferry: no such operator")
    yield
    passwords._hasher, passwords._DUMMY_HASH = saved


@pytest.fixture(scope="session", autouse=True)
def _private_user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The per-user data folder (`$XDG_DATA_HOME/ferry`, ferry's last-resort default) is a temporary one, so no
    test ever writes into the home folder of whoever runs the suite."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if saved is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = saved


@pytest.fixture(autouse=True)
def _umask_kept() -> Iterator[None]:
    """A CLI command run in this process sets umask 077 (`ferry.private_files.keep_private`): give the next test the
    umask it found, so files a later test makes for another user (a venv the embedded PostgreSQL runs from) stay
    readable."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the server's loop), not trio."""
    return "asyncio"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser connection to the test server (configured, or embedded for this run)."""
    configured = os.environ.get("FERRY_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    folder = Path(tempfile.mkdtemp(prefix="ferry-test-pg-"))
    server = EmbeddedPostgres(folder)
    try:
        url = server.start("postgres")
        # One run holds many servers at once (each with its writers, listener and health checks): PostgreSQL's
        # default 100 connections is too few for the whole suite on one server.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET max_connections = 500")
        server.stop()
        yield server.start("postgres")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases (dropped when the run ends); returns a connection string."""
    run = uuid.uuid4().hex[:8]
    created: list[str] = []

    def make() -> str:
        name = f"ferry_test_{run}_{len(created)}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return make_conninfo(pg_admin_url, dbname=name)

    yield make
    if not os.environ.get("FERRY_TEST_DATABASE_URL"):
        return  # the embedded server's folder is deleted with them: dropping ~1,000 databases first took ~40 s
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def new_postgres_url(new_database: Callable[[], str]) -> Callable[[], str]:
    """A factory of fresh, empty databases as `postgresql://` URLs (what warehouse URLs are)."""
    # A libpq URI with every parameter in the query string: socket folders (embedded server) included.
    return lambda: adbc_uri(new_database())


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    """A fresh database for one test."""
    return new_database()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a `ferry` CLI call on a fresh database, run from an empty folder with no ferry.toml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERRY_CONFIG", raising=False)
    return {"FERRY_DATABASE_URL": database_url, "COLUMNS": "200"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at a fresh staging database and a private data folder."""
    return Settings.from_env(database_url=database_url, data_dir=tmp_path / "ferry-data",
                             warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}")


@pytest.fixture
def staging_db(settings: Settings) -> Iterator[StagingDatabase]:
    """An open staging database (migrated, built-in schemas installed) on a fresh database."""
    with StagingDatabase.open(settings) as db:
        yield db


InProcess = Callable[[Settings], AbstractAsyncContextManager[tuple[Runtime, httpx.AsyncClient]]]


@pytest.fixture(scope="session")
def in_process() -> InProcess:
    """Run the real app in this process: `async with in_process(settings) as (runtime, client)`.

    Operator `admin` (password `secret`) exists. ASGITransport runs no lifespan, so the runtime is started and
    stopped here.
    """

    @asynccontextmanager
    async def run(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
        runtime = Runtime(settings)
        try:
            runtime.auth.ensure_admin("secret")
            app = create_app(runtime)
            await runtime.start()
            try:
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://ferry.test") as client:
                    yield runtime, client
            finally:
                await runtime.stop()
        finally:
            runtime.close()

    return run


# -- subscriptions (tests/subscriptions, and the same cases on Snowflake) ----------------------------------------


@pytest.fixture
def news(staging_db: StagingDatabase) -> StagingDatabase:
    """Staging with services `news` (email) and `sms_alerts` (sms, 30 days)."""
    services.add(staging_db.pool, "news", label="Newsletter", channel="email")
    services.add(staging_db.pool, "sms_alerts", label="SMS alerts", channel="sms", validity_days=30)
    return staging_db


@pytest.fixture
def sync(settings: Settings) -> Callable[[StagingDatabase, Warehouse], RunResult]:
    """Run `ffdaReplicateStagingData` for nms:subscription now; asserts the run succeeded."""

    def run(db: StagingDatabase, wh: Warehouse) -> RunResult:
        result = run_once(db, wh, "nms:subscription", settings, wait=True)
        assert result.state == "succeeded", result.error
        return result

    return run
