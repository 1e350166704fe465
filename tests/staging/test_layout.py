"""Staging table layout of the log: no state column, `_seq` from a CACHE 1 sequence the table owns."""

from __future__ import annotations

import psycopg

from ferry.schema import parse_schema
from ferry.staging import StagingDatabase

SHOP = """<srcSchema namespace="cus" name="shop"><element name="shop" autopk="true" autouuid="true" autoStg="true">
<attribute name="code" type="string" length="10"/></element></srcSchema>"""


def test_new_table_is_a_log_with_an_owned_cache_one_sequence(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(SHOP))
    with psycopg.connect(staging_db.url) as conn:
        indexes = {r[0]: r[1] for r in conn.execute("SELECT indexname, indexdef FROM pg_indexes "
                                                     "WHERE schemaname = 'ferry_stg' AND tablename = 'cus_shop'")}
        sequence = conn.execute("SELECT pg_get_serial_sequence('ferry_stg.cus_shop', '_seq')").fetchone()
        cache = conn.execute("SELECT cache_size FROM pg_sequences WHERE schemaname = 'ferry_stg' "
                             "AND sequencename = 'cus_shop__seq'").fetchone()
    assert sequence == ("ferry_stg.cus_shop__seq",) and cache == (1,)
    # A re-queued row is a new row with the same UUID: the index on `_uuid` is not unique.
    assert "UNIQUE" not in indexes["cus_shop_uuid"] and "cus_shop_request" in indexes
    assert not any("_state" in definition for definition in indexes.values())


def test_the_rows_view_follows_new_columns(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(SHOP))
    staging_db.catalog.apply(parse_schema(SHOP.replace('length="10"/>', 'length="10"/><attribute name="x" '
                                                       'type="long"/>')))
    with psycopg.connect(staging_db.url) as conn:
        names = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                            "'ferry' AND table_name = 'rows_cus_shop'")]
    assert {"x", "code", "_state", "_reason", "_batch_id", "_done_at"} <= set(names)
