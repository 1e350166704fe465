"""Result shaping without a database: Campaign text forms, omitted values, JSON-native values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from ferry.query import OutputColumn, QueryNotFound, query_from_params, rows_to_json, rows_to_xml
from ferry.schema import AttrType

COLUMNS = [OutputColumn("when", AttrType.DATETIME, "when"), OutputColumn("flag", AttrType.BOOLEAN, "flag"),
           OutputColumn("day", AttrType.DATE, "day"), OutputColumn("avg", AttrType.DOUBLE),
           OutputColumn("name", AttrType.STRING, "name")]
ROW = (dt.datetime(2024, 1, 2, 4, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=1))), False,
       dt.date(2024, 1, 2), Decimal("2.5000"), "Ann\x01")


def xml(operation: str, rows: list[tuple[object, ...]]) -> str:
    query = query_from_params("nms:recipient", operation=operation)
    return etree.tostring(rows_to_xml(query, "recipient", COLUMNS, rows), encoding="unicode")


def test_campaign_text_forms() -> None:
    assert xml("select", [ROW]) == ('<recipient-collection><recipient when="2024-01-02T03:04:05.678Z" flag="false" '
                                    'day="2024-01-02" avg="2.5" name="Ann\ufffd"/></recipient-collection>')


def test_missing_values_are_left_out() -> None:
    assert xml("getIfExists", [(None, None, None, Decimal("3.000"), "")]) == '<recipient avg="3"/>'


def test_shapes_by_operation() -> None:
    assert xml("select", []) == "<recipient-collection/>"
    assert xml("getIfExists", []) == "<recipient/>"
    assert xml("get", [ROW, ROW]).startswith("<recipient when=")
    with pytest.raises(QueryNotFound):
        xml("get", [])
    count = query_from_params("nms:recipient", operation="count")
    element = rows_to_xml(count, "recipient", [OutputColumn("count", AttrType.INT64)], [(4,)])
    assert etree.tostring(element, encoding="unicode") == '<recipient count="4"/>'


def test_json_values() -> None:
    query = query_from_params("nms:recipient")
    assert rows_to_json(query, COLUMNS, [ROW]) == [
        {"when": "2024-01-02T03:04:05.678Z", "flag": False, "day": "2024-01-02", "avg": 2.5, "name": "Ann\x01"}]
    assert rows_to_json(query, COLUMNS, [(None, True, None, Decimal("7"), "")]) == [
        {"when": None, "flag": True, "day": None, "avg": 7, "name": ""}]
    with pytest.raises(QueryNotFound):
        rows_to_json(query_from_params("nms:recipient", operation="get"), COLUMNS, [])


def test_analyze_adds_the_name_and_label_of_an_enumerated_value() -> None:
    from lxml import etree

    from ferry.query import analyzed, compile_query, parse_query_def
    from ferry.schema import builtin_schemas

    recipient = next(schema for schema in builtin_schemas() if schema.id == "nms:recipient")
    query = parse_query_def(etree.fromstring(
        '<queryDef schema="nms:recipient" operation="select"><select><node expr="@email"/>'
        '<node expr="@gender" analyze="true"/><node expr="@emailFormat"/></select></queryDef>'))
    compiled = compile_query(query, recipient, '"nms_recipient"', "duckdb")
    enums = analyzed(query, recipient, [column.name for column in compiled.columns])
    assert set(enums) == {"gender"}
    result = rows_to_xml(query, "recipient", compiled.columns, [("a@x.com", 2, 1), ("b@x.com", 7, 0)], enums)
    first, second = list(result)
    assert dict(first.attrib) == {"email": "a@x.com", "gender": "2", "genderName": "female", "genderLabel": "Female",
                                  "emailFormat": "1"}
    # A value the enumeration does not list comes back alone.
    assert dict(second.attrib) == {"email": "b@x.com", "gender": "7", "emailFormat": "0"}
