"""The embedded default: a private PostgreSQL under the data folder, stopped on exit."""

from __future__ import annotations

from pathlib import Path

import psycopg

from ferry.config import Settings
from ferry.staging import StagingDatabase


def test_without_a_url_ferry_starts_and_stops_its_own_postgresql(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    settings = Settings(**{**settings.__dict__, "database_url": None})
    db = StagingDatabase.open(settings)
    try:
        assert db.embedded is not None and db.embedded.running
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        with psycopg.connect(db.url) as conn:
            assert conn.execute("SELECT count(*) FROM ferry.schemas WHERE id = 'nms:recipient'").fetchone() == (1,)
    finally:
        db.close()
    assert not db.embedded.running
    # A second start reuses the same data.
    again = StagingDatabase.open(settings)
    try:
        assert again.registry.get("nms:recipient") is not None
    finally:
        again.close()
