"""Compiled queries run on a real DuckDB and a real PostgreSQL table; results in Campaign's shapes (§4.6)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.query import NOT_FOUND_CAMPAIGN_CODE, QueryNotFound, parse_query_def, query_from_params, rows_to_json
from ferry.schema import Schema

Q = '<queryDef schema="nms:recipient" operation="{op}" xtkschema="xtk:queryDef"{extra}>{body}</queryDef>'


def qd(op: str = "select", body: str = "", extra: str = "") -> str:
    return Q.format(op=op, body=body, extra=extra)


def ids_where(engine: Any, schema: Schema, condition_xml: str) -> list[str]:
    xml = engine.xml(qd(body='<select><node expr="@id"/></select><where>' + condition_xml
                        + '</where><orderBy><node expr="@id"/></orderBy>'), schema)
    return [e.get("id") for e in etree.fromstring(xml)]


def cond(expr: str) -> str:
    return f'<condition expr="{expr.replace("&", "&amp;").replace("<", "&lt;").replace(chr(34), "&quot;")}"/>'


def test_select_attributes(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@email"/><node expr="@firstName"/></select>'
                             '<orderBy><node expr="@id"/></orderBy>'), recipient)
    assert xml == ('<recipient-collection>'
                   '<recipient email="a@x.com" firstName="Ann"/>'
                   '<recipient email="b@x.com" firstName="Bob"/>'
                   '<recipient email="c@y.org" firstName="Cid"/>'
                   '<recipient email="o\'neil@x.com" firstName="Dee"/>'
                   '<recipient email="E@X.COM" firstName="Eve"/>'
                   '</recipient-collection>')


def test_operation_absent_means_select(engine: Any, recipient: Schema) -> None:
    xml = engine.xml('<queryDef schema="nms:recipient"><select><node expr="@id"/></select>'
                     '<where><condition expr="@id = \'r2\'"/></where></queryDef>', recipient)
    assert xml == '<recipient-collection><recipient id="r2"/></recipient-collection>'


def test_select_no_row_is_an_empty_collection(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@email"/></select><where>' + cond("@email = 'zz'") + '</where>'),
                     recipient)
    assert xml == "<recipient-collection/>"


def test_get_with_escaped_quote(engine: Any, recipient: Schema) -> None:
    # sdk.escapeXtk`@email = ${"o'neil@x.com"}` gives @email = 'o\'neil@x.com'
    xml = engine.xml(qd("get", '<select><node expr="@firstName"/><node expr="@lastName"/></select>'
                               '<where>' + cond("@email = 'o\\'neil@x.com'") + '</where>'), recipient)
    assert xml == "<recipient firstName=\"Dee\" lastName=\"O'Neil\"/>"


def test_get_without_row_is_a_campaign_fault(engine: Any, recipient: Schema) -> None:
    with pytest.raises(QueryNotFound) as caught:
        engine.xml(qd("get", '<select><node expr="@email"/></select><where>' + cond("@email = 'zz'") + '</where>'),
                   recipient)
    assert caught.value.campaign_code == NOT_FOUND_CAMPAIGN_CODE == "XSV-350123"
    assert caught.value.code == errors.QUERY_NO_RECORD
    assert caught.value.fault_string.startswith("XSV-350123 The record was not found")


def test_get_returns_the_first_row_in_order(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd("get", '<select><node expr="@id"/></select><where>' + cond("@gender = 1") + '</where>'
                               '<orderBy><node expr="@id" sortDesc="true"/></orderBy>'), recipient)
    assert xml == '<recipient id="r3"/>'


def test_get_if_exists(engine: Any, recipient: Schema) -> None:
    found = engine.xml(qd("getIfExists", '<select><node expr="@email"/></select><where>'
                                         + cond("@id = 'r1'") + '</where>'), recipient)
    assert found == '<recipient email="a@x.com"/>'
    missing = engine.xml(qd("getIfExists", '<select><node expr="@email"/></select><where>'
                                           + cond("@email = 'a@nowhere'") + '</where>'), recipient)
    assert missing == "<recipient/>"


def test_count(engine: Any, recipient: Schema) -> None:
    assert engine.xml(qd("count"), recipient) == '<recipient count="5"/>'
    assert engine.xml(qd("count", '<select><node expr="@email"/></select><where>' + cond("@gender = 2")
                      + '</where>'), recipient) == '<recipient count="2"/>'
    assert engine.xml(qd("count", "<where>" + cond("@gender = 9") + "</where>"), recipient) == '<recipient count="0"/>'


def test_aliases_and_expression_names(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@email" alias="@mail"/><node expr="Lower(@email)" alias="low"/>'
                             '<node expr="Upper(@firstName)"/><node expr="Length(@firstName)"/></select>'
                             '<where>' + cond("@id = 'r5'") + '</where>'), recipient)
    assert xml == ('<recipient-collection><recipient mail="E@X.COM" low="e@x.com" expr0="EVE" expr1="3"/>'
                   '</recipient-collection>')


def test_lower_in_where(engine: Any, recipient: Schema) -> None:
    assert ids_where(engine, recipient, cond("Lower(@email) = 'e@x.com'")) == ["r5"]


def test_count_with_group_by(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@gender"/><node expr="count()" alias="@n"/></select>'
                             '<orderBy><node expr="@gender"/></orderBy>'), recipient)
    assert xml == ('<recipient-collection><recipient gender="0" n="1"/><recipient gender="1" n="2"/>'
                   '<recipient gender="2" n="2"/></recipient-collection>')


def test_aggregates_without_group(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="count()" alias="n"/><node expr="Count(@lastName)" alias="named"/>'
                             '<node expr="Sum(@gender)" alias="s"/><node expr="Avg(@gender)" alias="a"/>'
                             '<node expr="Min(@birthDate)" alias="lo"/><node expr="Max(@birthDate)" alias="hi"/>'
                             '<node expr="CountDistinct(@origin)" alias="d"/></select>'), recipient)
    assert xml == ('<recipient-collection><recipient n="5" named="4" s="6" a="1.2" lo="1985-01-15" hi="2001-12-31" '
                   'd="3"/></recipient-collection>')


def test_types_render_as_campaign_text(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd("get", '<select><node expr="@blackList"/><node expr="@birthDate"/><node expr="@gender"/>'
                               '<node expr="@blackListEmail"/><node expr="@lastName"/></select>'
                               '<where>' + cond("@id = 'r2'") + '</where>'), recipient)
    # blackListEmail is NULL in the test rows: left out, as Campaign does.
    assert xml == '<recipient blackList="true" birthDate="1985-01-15" gender="1" lastName="Brown"/>'


def test_null_and_empty_values_are_left_out(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@lastName"/><node expr="@origin"/><node expr="@id"/></select>'
                             '<where>' + cond("@id IN ('r3', 'r4')") + '</where><orderBy><node expr="@id"/></orderBy>'),
                     recipient)
    assert xml == ('<recipient-collection><recipient origin="web" id="r3"/><recipient lastName="O\'Neil" id="r4"/>'
                   '</recipient-collection>')


def test_no_select_node_means_every_attribute(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd("getIfExists", "<where>" + cond("@id = 'r2'") + "</where>"), recipient)
    assert xml == ('<recipient id="r2" email="b@x.com" firstName="Bob" lastName="Brown" gender="1" '
                   'birthDate="1985-01-15" blackList="true" origin="web"/>')


@pytest.mark.parametrize(("expr", "expected"), [
    ("@gender = 1", ["r2", "r3"]),
    ("@gender != 1", ["r1", "r4", "r5"]),
    ("@gender <> 1", ["r1", "r4", "r5"]),
    ("@gender < 1", ["r4"]),
    ("@gender <= 1", ["r2", "r3", "r4"]),
    ("@gender > 1", ["r1", "r5"]),
    ("@gender >= 1", ["r1", "r2", "r3", "r5"]),
    ("@gender = '2'", ["r1", "r5"]),
    ("1 = @gender", ["r2", "r3"]),
    ("@birthDate < '1995-01-01'", ["r1", "r2"]),
    ("@birthDate >= '2001-12-31T00:00:00.000Z'", ["r4"]),
    ("@blackList = true", ["r2"]),
    ("@blackList = 0", ["r1", "r3", "r4", "r5"]),
    ("@blackList", ["r2"]),
    ("NOT @blackList", ["r1", "r3", "r4", "r5"]),
    ("@email like '%@x.com'", ["r1", "r2", "r4"]),
    ("@email LIKE 'a_x.com'", ["r1"]),
    ("@email LIKE 'a\\\\_x.com'", []),
    ("@email like 'a@_.com'", ["r1"]),
    ("@email not like '%@x.com'", ["r3", "r5"]),
    ("Lower(@email) like '%@x.com'", ["r1", "r2", "r4", "r5"]),
    ("@email like '%\\'%'", ["r4"]),
    ("@lastName IS NULL", ["r3"]),
    ("@lastName IS NOT NULL", ["r1", "r2", "r4", "r5"]),
    ("@origin IS NULL", ["r1", "r4"]),
    ("@origin is not null", ["r2", "r3", "r5"]),
    ("@birthDate IS NULL", ["r3"]),
    ("@gender IN (0, 2)", ["r1", "r4", "r5"]),
    ("@gender NOT IN (0, 2)", ["r2", "r3"]),
    ("@firstName IN ('Ann', 'Eve')", ["r1", "r5"]),
    ("@gender = 1 AND @origin = 'web' OR @firstName = 'Ann'", ["r1", "r2", "r3"]),
    ("@gender = 1 AND (@origin = 'shop' OR @firstName = 'Ann')", []),
    ("@gender = 2 AND (@origin = 'shop' OR @firstName = 'Ann')", ["r1", "r5"]),
    ("NOT (@gender = 1 OR @gender = 2)", ["r4"]),
    ("@gender + 1 = 3", ["r1", "r5"]),
    ("@gender * 2 - 1 > 2", ["r1", "r5"]),
    ("@gender / 4 = 0.5", ["r1", "r5"]),
    ("-@gender = -1", ["r2", "r3"]),
    ("Year(@birthDate) = 1990", ["r1"]),
    ("Month(@birthDate) = 12 AND Day(@birthDate) = 31", ["r4"]),
    ("Length(@firstName) = 3", ["r1", "r2", "r3", "r4", "r5"]),
    ("Len(Trim(@lastName)) > 5", ["r1", "r4"]),
    ("Concat(@firstName, '-', @id) = 'Ann-r1'", ["r1"]),
    ("Coalesce(@lastName, 'none') = 'none'", ["r3"]),
    ("IsNull(@birthDate, '1900-01-01') < '1901-01-01'", ["r3"]),
    ("Substring(@email, 1, 2) = 'a@'", ["r1"]),
    ("Upper(Substring(@email, 3)) = 'X.COM'", ["r1", "r2", "r5"]),
    ("Abs(@gender - 2) = 2", ["r4"]),
    ("Round(@gender / 3.0, 2) = 0.67", ["r1", "r5"]),
    ("Floor(@gender / 2) = 0 AND Ceil(@gender / 2) = 1", ["r2", "r3"]),
    ("@birthDate < GetDate()", ["r1", "r2", "r4", "r5"]),
    ("LTrim(RTrim(@firstName)) = 'Bob'", ["r2"]),
    ("@email = NULL", []),
    ("true", ["r1", "r2", "r3", "r4", "r5"]),
])
def test_conditions(engine: Any, recipient: Schema, expr: str, expected: list[str]) -> None:
    assert ids_where(engine, recipient, cond(expr)) == expected


def test_bool_operator_joins_sibling_conditions(engine: Any, recipient: Schema) -> None:
    assert ids_where(engine, recipient, cond("@gender = 1") + cond("@origin = 'web'")) == ["r2", "r3"]
    or_xml = '<condition expr="@gender = 1" boolOperator="OR"/>' + cond("@firstName = 'Ann'")
    assert ids_where(engine, recipient, or_xml) == ["r1", "r2", "r3"]
    # AND binds tighter: (gender = 1 AND origin = 'web') OR firstName = 'Ann'
    flat = ('<condition expr="@gender = 1" boolOperator="AND"/><condition expr="@origin = \'web\'" '
            'boolOperator="OR"/>' + cond("@firstName = 'Ann'"))
    assert ids_where(engine, recipient, flat) == ["r1", "r2", "r3"]


def test_nested_conditions_are_groups(engine: Any, recipient: Schema) -> None:
    grouped = (cond("@gender = 1") + '<condition boolOperator="AND">'
               '<condition expr="@origin = \'web\'" boolOperator="or"/>' + cond("@firstName = 'Ann'") + '</condition>')
    assert ids_where(engine, recipient, grouped) == ["r2", "r3"]
    two_groups = ('<condition boolOperator="OR">' + cond("@gender = 0") + '</condition>'
                  '<condition>' + cond("@gender = 2") + cond("@origin = 'shop'") + '</condition>')
    assert ids_where(engine, recipient, two_groups) == ["r4", "r5"]


def test_order_by_desc_nulls_first(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@id"/></select>'
                             '<orderBy><node expr="@birthDate" sortDesc="true"/></orderBy>'), recipient)
    assert [e.get("id") for e in etree.fromstring(xml)] == ["r3", "r4", "r5", "r1", "r2"]
    xml = engine.xml(qd(body='<select><node expr="@id"/></select>'
                             '<orderBy><node expr="@gender"/><node expr="Lower(@email)" sortDesc="true"/></orderBy>'),
                     recipient)
    assert [e.get("id") for e in etree.fromstring(xml)] == ["r4", "r3", "r2", "r5", "r1"]


def test_line_count_and_start_line(engine: Any, recipient: Schema) -> None:
    body = '<select><node expr="@id"/></select><orderBy><node expr="@id"/></orderBy>'
    xml = engine.xml(qd(body=body, extra=' lineCount="2" startLine="1"'), recipient)
    assert xml == '<recipient-collection><recipient id="r2"/><recipient id="r3"/></recipient-collection>'
    xml = engine.xml(qd(body=body, extra=' startLine="4"'), recipient)
    assert xml == '<recipient-collection><recipient id="r5"/></recipient-collection>'
    xml = engine.xml(qd(body=body, extra=' lineCount="0"'), recipient)
    assert xml == '<recipient-collection/>'


def test_distinct(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@gender"/></select><orderBy><node expr="@gender"/></orderBy>',
                        extra=' distinct="true"'), recipient)
    assert xml == ('<recipient-collection><recipient gender="0"/><recipient gender="1"/><recipient gender="2"/>'
                   '</recipient-collection>')


def test_max_rows_caps_the_result(engine: Any, recipient: Schema) -> None:
    from ferry.query import compile_query
    query = query_from_params("nms:recipient", fields="id", order="id", limit=4)
    compiled = compile_query(query, recipient, '"nms_recipient"', engine.dialect, max_rows=2)
    assert len(engine.fetch(compiled.sql, compiled.params)) == 2


def test_rest_parameters_and_json(engine: Any, recipient: Schema) -> None:
    query = query_from_params("nms:recipient", fields="email,@firstName,birthDate,blackList",
                              filter="@email like '%@x.com'", order="-email", limit=2, offset=1)
    compiled = engine.compile(query, recipient)
    rows = engine.fetch(compiled.sql, compiled.params)
    assert rows_to_json(query, compiled.columns, rows) == [
        {"email": "b@x.com", "firstName": "Bob", "birthDate": "1985-01-15", "blackList": True},
        {"email": "a@x.com", "firstName": "Ann", "birthDate": "1990-05-01", "blackList": False},
    ]
    everything = query_from_params("nms:recipient", filter="@id = 'r3'")
    compiled = engine.compile(everything, recipient)
    [row] = rows_to_json(everything, compiled.columns, engine.fetch(compiled.sql, compiled.params))
    assert row["lastName"] is None and row["gender"] == 1 and row["id"] == "r3"
    counted = query_from_params("nms:recipient", filter="@gender = 1", operation="count")
    compiled = engine.compile(counted, recipient)
    assert rows_to_json(counted, compiled.columns, engine.fetch(compiled.sql, compiled.params)) == [{"count": 2}]


@pytest.mark.parametrize(("body", "code"), [
    ('<select><node expr="@nope"/></select>', errors.QUERY_UNKNOWN_ATTRIBUTE),
    ('<where><condition expr="@birthDate = \'yesterday\'"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="@gender = \'abc\'"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="@email = @gender"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="@blackList = \'maybe\'"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="@email"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="@email + 1 = 2"/></where>', errors.QUERY_TYPE_MISMATCH),
    ('<where><condition expr="count() > 1"/></where>', errors.BAD_QUERY),
    ('<select><node expr="Sum(Count(@email))"/></select>', errors.BAD_QUERY),
    ('<select><node expr="@email"/><node expr="@firstName" alias="email"/></select>', errors.BAD_QUERY),
    ('<select><node expr="@gender"/><node expr="count()"/></select><orderBy><node expr="@email"/></orderBy>',
     errors.BAD_QUERY),
    ('<select><node expr="@gender"/><node expr="@email"/></select><groupBy><node expr="@gender"/></groupBy>',
     errors.BAD_QUERY),
    ('<select><node expr="count()"/></select><groupBy><node expr="count()"/></groupBy>', errors.BAD_QUERY),
    ('<having><condition expr="@email"/></having>', errors.QUERY_TYPE_MISMATCH),
])
def test_compile_refusals(recipient: Schema, body: str, code: errors.Code) -> None:
    from ferry.query import compile_query
    query = parse_query_def(etree.fromstring(qd(body=body)))
    with pytest.raises(FerryError) as caught:
        compile_query(query, recipient, '"nms_recipient"', "duckdb")
    assert caught.value.code == code


def test_explicit_group_by_and_having(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="@origin"/><node expr="count()" alias="n"/>'
                             '<node expr="Max(@firstName)" alias="last"/></select>'
                             '<where>' + cond("@origin IS NOT NULL") + '</where>'
                             '<groupBy><node expr="@origin"/></groupBy>'
                             '<having><condition expr="count() &gt; 1" boolOperator="OR"/>'
                             '<condition expr="Max(@firstName) = \'Eve\'"/></having>'
                             '<orderBy><node expr="count()" sortDesc="true"/></orderBy>'), recipient)
    assert xml == ('<recipient-collection><recipient origin="web" n="2" last="Cid"/>'
                   '<recipient origin="shop" n="1" last="Eve"/></recipient-collection>')


def test_group_by_an_expression_not_selected(engine: Any, recipient: Schema) -> None:
    xml = engine.xml(qd(body='<select><node expr="count()" alias="n"/></select>'
                             '<groupBy><node expr="Concat(@gender, \'-\')"/></groupBy>'
                             '<orderBy><node expr="count()"/><node expr="Concat(@gender, \'-\')"/></orderBy>'),
                     recipient)
    assert xml == ('<recipient-collection><recipient n="1"/><recipient n="2"/><recipient n="2"/>'
                   '</recipient-collection>')


def test_distinct_cannot_use_unselected_nodes(recipient: Schema) -> None:
    from ferry.query import compile_query
    query = parse_query_def(etree.fromstring(qd(body='<select><node expr="count()"/></select>'
                                                     '<groupBy><node expr="@gender"/></groupBy>',
                                                extra=' distinct="true"')))
    with pytest.raises(FerryError) as caught:
        compile_query(query, recipient, '"nms_recipient"', "postgres")
    assert caught.value.code == errors.BAD_QUERY
    query = parse_query_def(etree.fromstring(qd(body='<select><node expr="@gender"/></select>'
                                                     '<orderBy><node expr="@email"/></orderBy>',
                                                extra=' distinct="true"')))
    with pytest.raises(FerryError) as caught:
        compile_query(query, recipient, '"nms_recipient"', "postgres")
    assert caught.value.code == errors.BAD_QUERY


def test_warehouse_stamp_columns_as_extra_attributes(fresh_engine: Any, recipient: Schema) -> None:
    # The warehouse adds created/lastModified; a caller exposes them by extending the schema it compiles with.
    import datetime as dt

    from ferry.schema import Attribute, AttrType
    kind = "TIMESTAMPTZ" if fresh_engine.dialect == "duckdb" else "timestamptz"
    fresh_engine.fetch(f'ALTER TABLE "nms_recipient" ADD COLUMN "created" {kind}', [])
    mark = "?" if fresh_engine.dialect == "duckdb" else "%s"
    fresh_engine.fetch(f'UPDATE "nms_recipient" SET "created" = {mark}',
                       [dt.datetime(2024, 1, 2, 4, 4, 5, 678000, tzinfo=dt.timezone(dt.timedelta(hours=1)))])
    stamped = recipient.with_attributes((*recipient.attributes, Attribute("created", AttrType.DATETIME)))
    xml = fresh_engine.xml(qd("get", '<select><node expr="@created"/></select><where>'
                                     + cond("@id = 'r1' AND @created >= '2024-01-02T03:04:05.000Z'") + '</where>'),
                           stamped)
    assert xml == '<recipient created="2024-01-02T03:04:05.678Z"/>'
    assert fresh_engine.xml(qd("count", '<where>' + cond("@created < '2024-01-02T03:04:05Z'") + '</where>'),
                            stamped) == '<recipient count="0"/>'
