"""Snowflake target tables: typed columns, a schema that gains an attribute, values of every type round-trip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sf_helpers import sync
from sync_helpers import ITEM_XML, call, item_schema, open_staging

from ferry.ingest import Method
from ferry.schema.loader import parse_schema
from ferry.warehouse import open_warehouse
from ferry.warehouse.snowflake_wh import SnowflakeWarehouse

# Not "at": fakesnow drops the quotes of `$1:"at"` and DuckDB then reads the keyword AT (Snowflake is fine).
WIDER = ITEM_XML.replace('<attribute name="note" type="memo"/>',
                         '<attribute name="note" type="memo"/><attribute name="day" type="date"/>'
                         '<attribute name="score" type="double"/><attribute name="naive" type="datetimenotz"/>'
                         '<attribute name="clock" type="time"/><attribute name="big" type="int64"/>')


def test_new_attributes_are_added_and_every_type_round_trips(new_database: Callable[[], str], snowflake_url: str,
                                                             tmp_path: Path) -> None:
    db, settings = open_staging(new_database(), tmp_path / "data")
    warehouse = open_warehouse(snowflake_url)
    try:
        assert isinstance(warehouse, SnowflakeWarehouse)
        db.store.stage([call(db, Method.INGEST, ({"email": "old", "b": "1"}, None, None))])
        sync(db, warehouse, settings, 1000)

        db.catalog.apply(parse_schema(WIDER))
        db.reload_schemas()
        db.store.stage([call(db, Method.INGEST, ({
            "email": "new", "flag": "true", "seen": "2024-05-06T07:08:09.123Z", "day": "2024-02-29",
            "score": "2.5", "naive": "2024-01-02T03:04:05", "clock": "13:14:15", "big": "9007199254740993",
        }, None, None))])
        db.store.stage([call(db, Method.INGEST_EXT, ({"email": "old", "score": "-1"}, "@email", None))])
        sync(db, warehouse, settings, 1000)

        types = {row[0]: row[1] for row in warehouse._run(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = CURRENT_SCHEMA() AND table_name = 'tst_item'").fetchall()}
        assert {"day", "score", "naive", "clock", "big", "created", "lastModified"} <= set(types)
        records = {r["email"]: r for r in warehouse.read(item_schema(db))}
        new = records["new"]
        assert new["flag"] is True and new["n"] == 7 and new["note"] is None
        assert new["seen"] == dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)
        assert new["day"] == dt.date(2024, 2, 29)
        assert new["score"] == 2.5
        assert new["naive"] == dt.datetime(2024, 1, 2, 3, 4, 5)
        assert new["clock"] == dt.time(13, 14, 15)
        assert new["big"] == 9007199254740993
        old = records["old"]
        assert old["score"] == -1.0 and old["b"] == 1 and old["day"] is None and old["naive"] is None
    finally:
        warehouse.close()
        db.close()
