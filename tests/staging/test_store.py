"""The staging write path: one durable row per record, with everything the sync needs."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ferry.errors import FerryError
from ferry.ingest import Method, build_call, records_from_json
from ferry.schema.model import Schema
from ferry.staging import StagingDatabase
from outcome_fakes import record_outcome


def stage(db: StagingDatabase, method: Method, doc: Any) -> Any:
    call = build_call(db.registry, method, records_from_json(doc))
    db.store.stage([call])
    return call


def rows(db: StagingDatabase) -> list[dict[str, Any]]:
    with psycopg.connect(db.url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM ferry.rows_nms_recipient ORDER BY _seq").fetchall()


def test_each_record_keeps_values_present_attributes_operation_key_sequence_uuid_request_time_state(
    staging_db: StagingDatabase,
) -> None:
    first = stage(staging_db, Method.INGEST, {"xtkschema": "nms:recipient", "email": "a@x", "firstName": "Ann"})
    second = stage(staging_db, Method.INGEST_EXT, [
        {"xtkschema": "nms:recipient", "_key": "@email", "email": "a@x", "lastName": ""},
        {"xtkschema": "nms:recipient", "_key": "@email", "_operation": "delete", "email": "b@x"},
    ])
    found = rows(staging_db)
    assert len(found) == 3
    head = found[0]
    assert head["_uuid"] == first.operations[0].uuid
    assert head["_request_id"] == first.request_id
    assert head["_op"] == "insert" and head["_key"] is None
    assert sorted(head["_present"]) == ["email", "firstName", "id"]
    assert head["id"] == str(first.operations[0].uuid)
    assert (head["email"], head["firstName"], head["lastName"]) == ("a@x", "Ann", None)
    assert head["_state"] == "staged" and head["_received_at"] is not None
    update, delete = found[1], found[2]
    assert update["_op"] == "insertOrUpdate" and update["_key"] == ["email"]
    assert sorted(update["_present"]) == ["email", "lastName"]
    assert update["lastName"] == ""
    assert delete["_op"] == "delete" and delete["_present"] == ["email"]
    assert update["_request_id"] == delete["_request_id"] == second.request_id
    assert [row["_seq"] for row in found] == sorted(row["_seq"] for row in found)
    assert found[0]["_seq"] < found[1]["_seq"] < found[2]["_seq"]


def test_request_and_record_lookups(staging_db: StagingDatabase) -> None:
    accepted = stage(staging_db, Method.INGEST, [{"xtkschema": "nms:recipient", "email": f"{i}@x"} for i in range(3)])
    request = staging_db.store.request(accepted.request_id)
    assert request is not None
    assert request["method"] == "Ingest" and request["record_count"] == 3
    assert [record["values"]["email"] for record in request["records"]] == ["0@x", "1@x", "2@x"]
    record = staging_db.store.record(accepted.operations[1].uuid)
    assert record is not None and record["state"] == "staged" and record["request_id"] == accepted.request_id


def test_a_bad_500th_record_stages_none_of_the_1000(staging_db: StagingDatabase) -> None:
    docs: list[dict[str, Any]] = [{"xtkschema": "nms:recipient", "email": f"{i}@x"} for i in range(1000)]
    docs[499]["birthDate"] = "not a date"
    with pytest.raises(FerryError) as info:
        stage(staging_db, Method.INGEST, docs)
    assert info.value.position == 500
    assert rows(staging_db) == []
    with psycopg.connect(staging_db.url) as conn:
        assert conn.execute("SELECT count(*) FROM ferry.requests").fetchone() == (0,)


def test_a_failing_write_stages_nothing_of_the_group(staging_db: StagingDatabase) -> None:
    good = build_call(staging_db.registry, Method.INGEST, records_from_json({"xtkschema": "nms:recipient",
                                                                            "email": "g@x"}))
    duplicate = build_call(staging_db.registry, Method.INGEST, records_from_json({"xtkschema": "nms:recipient",
                                                                                 "email": "d@x"}))
    with pytest.raises(psycopg.errors.UniqueViolation):
        staging_db.store.stage([good, duplicate, duplicate])
    assert rows(staging_db) == []


def _recipient(db: StagingDatabase) -> Schema:
    schema = db.registry.get("nms:recipient")
    assert schema is not None
    return schema


def test_status_counts_rows_per_state_and_oldest_unsynced(staging_db: StagingDatabase) -> None:
    stage(staging_db, Method.INGEST, [{"xtkschema": "nms:recipient", "email": f"{i}@x"} for i in range(4)])
    with psycopg.connect(staging_db.url, autocommit=True) as conn:
        first = conn.execute("SELECT _uuid FROM ferry_stg.nms_recipient ORDER BY _seq LIMIT 1").fetchone()
    assert first is not None
    record_outcome(staging_db.url, _recipient(staging_db), str(first[0]), "synced")
    (status,) = [item for item in staging_db.store.status() if item.schema_id == "nms:recipient"]
    assert status.counts == {"staged": 3, "synced": 1, "skipped": 0, "failed": 0}
    assert status.oldest_unsynced is not None and status.lag_seconds >= 0


def test_sql_in_values_is_stored_verbatim(staging_db: StagingDatabase) -> None:
    nasty = "x'); DROP TABLE ferry.requests; --"
    stage(staging_db, Method.INGEST, {"xtkschema": "nms:recipient", "email": "s@x", "lastName": nasty})
    assert rows(staging_db)[0]["lastName"] == nasty
