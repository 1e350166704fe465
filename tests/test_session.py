"""The Python API a workflow script uses, like Campaign's `xtk.session.Ingest(xml)`."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from lxml import etree

from ferry.config import Settings
from ferry.errors import FerryError
from ferry.session import Session


@pytest.fixture
def session(settings: Settings) -> Session:
    with Session.open(settings) as opened:
        yield opened  # type: ignore[misc]


def test_ingest_returns_a_uuid_or_empty_with_key(session: Session) -> None:
    new_id = session.ingest('<recipientStg xtkschema="nms:recipientStg" email="a@x.com" firstName="Ann"/>')
    assert uuid.UUID(new_id)
    assert session.ingest({"xtkschema": "nms:recipient", "_key": "@email", "email": "b@x.com"}) == ""
    assert session.ingest(etree.fromstring('<recipient xtkschema="nms:recipient" email="c@x.com"/>')) != ""


def test_ingest_ext_stages_updates_and_deletes(session: Session) -> None:
    assert session.ingest_ext({"xtkschema": "nms:recipient", "_key": "@email", "email": "b@x.com",
                               "firstName": "Bobby"}) is None
    session.ingest_ext('<recipient xtkschema="nms:recipient" _key="@email" _operation="delete" email="a@x.com"/>')
    with psycopg.connect(session.db.url) as conn:
        ops = conn.execute("SELECT _op, email FROM ferry_stg.nms_recipient ORDER BY _seq").fetchall()
    assert ops == [("insertOrUpdate", "b@x.com"), ("delete", "a@x.com")]


def test_collections_go_in_one_call(session: Session) -> None:
    result = session.ingest([{"xtkschema": "nms:recipient", "email": f"{i}@x"} for i in range(3)])
    assert len(result.split(",")) == 3


def test_refusals_are_ferry_errors(session: Session) -> None:
    with pytest.raises(FerryError) as info:
        session.ingest({"xtkschema": "nms:recipient", "shoeSize": "42"})
    assert info.value.code.code == "FRY-100005"
