"""Staging table layout for the sync: half-full pages, no index on `_batch_id`; old tables are brought in line."""

from __future__ import annotations

import psycopg

from ferry.schema import parse_schema
from ferry.staging import StagingDatabase
from ferry.staging.migrations import _migrations

SHOP = """<srcSchema namespace="cus" name="shop"><element name="shop" autopk="true" autouuid="true" autoStg="true">
<attribute name="code" type="string" length="10"/></element></srcSchema>"""


def layout(url: str) -> tuple[list[str], list[str]]:
    """(reloptions, index names) of ferry_stg.cus_shop."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = 'ferry_stg.cus_shop'::regclass"
                           ).fetchone()
        indexes = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'ferry_stg' "
                                              "AND tablename = 'cus_shop' ORDER BY 1")]
    assert row is not None
    return list(row[0]), indexes


def make_old(url: str) -> None:
    """Give the table the layout of ferry before the HOT-update change."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE ferry_stg.cus_shop RESET (fillfactor)")
        conn.execute("CREATE INDEX cus_shop_batch ON ferry_stg.cus_shop (_batch_id) WHERE _batch_id IS NOT NULL")


def test_new_table_has_room_for_hot_updates_and_no_batch_index(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(SHOP))
    options, indexes = layout(staging_db.url)
    assert "fillfactor=50" in options
    assert "cus_shop_batch" not in indexes
    assert "cus_shop_pending" in indexes and "cus_shop_done" in indexes


def test_applying_a_schema_again_updates_an_old_table(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(SHOP))
    make_old(staging_db.url)
    staging_db.catalog.apply(parse_schema(SHOP))
    options, indexes = layout(staging_db.url)
    assert "fillfactor=50" in options and "cus_shop_batch" not in indexes


def test_the_migration_updates_existing_staging_tables(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(SHOP))
    make_old(staging_db.url)
    (sql,) = [text for _v, name, text in _migrations() if name == "0060_sync_hot_updates.sql"]
    with psycopg.connect(staging_db.url, autocommit=True) as conn:
        conn.execute("ALTER TABLE ferry.sync_batches DROP COLUMN last_seq")
        conn.execute(sql.encode())
        (found,) = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ferry' "
                                "AND table_name = 'sync_batches' AND column_name = 'last_seq'").fetchone() or (0,)
    options, indexes = layout(staging_db.url)
    assert "fillfactor=50" in options and "cus_shop_batch" not in indexes
    assert found == 1
