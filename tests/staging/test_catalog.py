"""Applying schemas: staging tables created from the schema, evolved without losing data."""

from __future__ import annotations

import psycopg
import pytest

from ferry.errors import FerryError
from ferry.ingest import Method, build_call, records_from_json
from ferry.schema import parse_schema
from ferry.staging import StagingDatabase

V1 = """<srcSchema namespace="cus" name="shop"><element name="shop" autopk="true" autouuid="true" autoStg="true">
<attribute name="code" type="string" length="10"/><attribute name="city" type="string" length="20"/>
</element></srcSchema>"""
V2 = V1.replace('<attribute name="city" type="string" length="20"/>',
                '<attribute name="city" type="string" length="40"/><attribute name="opened" type="date"/>')
V3 = V1.replace('<attribute name="city" type="string" length="20"/>', "")


def columns(url: str) -> dict[str, tuple[str, int | None]]:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
                             "WHERE table_schema = 'ferry_stg' AND table_name = 'cus_shop'").fetchall()
    return {name: (kind, length) for name, kind, length in found}


def test_staging_table_is_created_from_the_schema(staging_db: StagingDatabase) -> None:
    change = staging_db.catalog.apply(parse_schema(V1))
    assert change.created
    found = columns(staging_db.url)
    assert found["code"] == ("character varying", 10)
    assert found["id"] == ("character varying", 36)
    assert {"_seq", "_uuid", "_request_id", "_op", "_key", "_present", "_received_at"} <= set(found)
    # The log holds no state: the sync never writes a staged row (states are derived, see staging/outcomes.py).
    assert not {"_state", "_reason", "_batch_id", "_done_at"} & set(found)


def test_a_changed_schema_adds_columns_and_keeps_staged_rows(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    registry = staging_db.reload_schemas()
    staging_db.store.stage([build_call(registry, Method.INGEST,
                                       records_from_json({"xtkschema": "cus:shop", "code": "A", "city": "Paris"}))])
    change = staging_db.catalog.apply(parse_schema(V2))
    assert change.added == ["opened"] and change.widened == ["city"]
    registry = staging_db.reload_schemas()
    staging_db.store.stage([build_call(registry, Method.INGEST, records_from_json(
        {"xtkschema": "cus:shop", "code": "B", "city": "x" * 40, "opened": "2024-05-01"}))])
    with psycopg.connect(staging_db.url) as conn:
        found = conn.execute("SELECT code, city, opened FROM ferry_stg.cus_shop ORDER BY _seq").fetchall()
    assert found[0] == ("A", "Paris", None)
    assert found[1][0] == "B" and found[1][2] is not None


def test_a_removed_attribute_is_reported_not_dropped(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    change = staging_db.catalog.apply(parse_schema(V3))
    assert change.removed == ["city"]
    assert "city" in columns(staging_db.url)


def test_a_type_change_is_refused(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    with pytest.raises(FerryError) as info:
        staging_db.catalog.apply(parse_schema(V1.replace('name="code" type="string" length="10"',
                                                         'name="code" type="long"')))
    assert info.value.code.code == "FRY-200004"


def test_a_shorter_length_keeps_the_wider_column(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    change = staging_db.catalog.apply(parse_schema(V1.replace('length="20"', 'length="5"')))
    assert change.refused and columns(staging_db.url)["city"] == ("character varying", 20)


def test_unstaging_with_pending_rows_is_refused(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    staging_db.store.stage([build_call(staging_db.reload_schemas(), Method.INGEST,
                                       records_from_json({"xtkschema": "cus:shop", "code": "A"}))])
    with pytest.raises(FerryError) as info:
        staging_db.catalog.apply(parse_schema(V1.replace('autoStg="true"', "")))
    assert "unsynced" in info.value.message


def test_schemas_are_shared_through_the_database(staging_db: StagingDatabase) -> None:
    staging_db.catalog.apply(parse_schema(V1))
    assert staging_db.catalog.load().get("cus:shop") is not None
    assert staging_db.catalog.load().get("nms:recipient") is not None
