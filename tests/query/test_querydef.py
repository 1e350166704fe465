"""Reading <queryDef> documents as the Adobe SDK sends them, and REST parameters."""

from __future__ import annotations

import pytest
from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.query import Operation, parse_query_def, query_from_params
from ferry.query.ast import AttrRef, Binary, Call, Literal


def parse(xml: str):  # type: ignore[no-untyped-def]
    return parse_query_def(etree.fromstring(xml))


def test_sdk_wire_document() -> None:
    # Recorded shape (§4.6): SimpleJson select:{node:[{expr}]} → <select><node expr=…/></select>, inside <document>.
    envelope = etree.fromstring(
        '<document xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xsi:type="" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">'
        '<queryDef schema="nms:recipient" operation="get" xtkschema="xtk:queryDef">'
        '<select><node expr="@email"/><node expr="@firstName" alias="@first"/></select>'
        '<where><condition expr="@email = \'b@x.com\'"/></where></queryDef></document>')
    query = parse_query_def(envelope[0])
    assert query.schema_id == "nms:recipient" and query.schema_short_name == "recipient"
    assert query.operation is Operation.GET
    assert [(n.expr, n.alias) for n in query.select] == [(AttrRef("email"), None), (AttrRef("firstName"), "first")]
    assert query.where == Binary("=", AttrRef("email"), Literal("b@x.com"))
    assert query.line_count is None and query.start_line == 0


def test_defaults_and_paging() -> None:
    query = parse('<queryDef schema="nms:recipient" lineCount="10" startLine="20"/>')
    assert query.operation is Operation.SELECT and query.select == () and query.where is None
    assert (query.line_count, query.start_line) == (10, 20)
    assert parse('<queryDef schema="nms:recipient" operation="GETIFEXISTS"/>').operation is Operation.GET_IF_EXISTS
    assert parse('<queryDef schema="nms:recipient" operation="count"/>').operation is Operation.COUNT


def test_order_by() -> None:
    query = parse('<queryDef schema="nms:recipient"><orderBy><node expr="@email" sortDesc="true"/>'
                  '<node expr="Lower(@firstName)"/></orderBy></queryDef>')
    assert [(n.expr, n.desc) for n in query.order_by] == [
        (AttrRef("email"), True), (Call("Lower", (AttrRef("firstName"),)), False)]


def test_conditions_combine_with_bool_operator() -> None:
    a, b, c = (Binary("=", AttrRef(x), Literal(1)) for x in "abc")
    query = parse('<queryDef schema="nms:recipient"><where><condition expr="@a = 1" boolOperator="OR"/>'
                  '<condition expr="@b = 1"/><condition expr="@c = 1"/></where></queryDef>')
    assert query.where == Binary("OR", a, Binary("AND", b, c))
    nested = parse('<queryDef schema="nms:recipient"><where><condition expr="@a = 1"/>'
                   '<condition><condition expr="@b = 1" boolOperator="OR"/><condition expr="@c = 1"/></condition>'
                   '</where></queryDef>')
    assert nested.where == Binary("AND", a, Binary("OR", b, c))


def test_condition_with_expr_and_children_requires_both() -> None:
    query = parse('<queryDef schema="nms:recipient"><where><condition expr="@a = 1">'
                  '<condition expr="@b = 1"/></condition></where></queryDef>')
    assert query.where == Binary("AND", Binary("=", AttrRef("a"), Literal(1)), Binary("=", AttrRef("b"), Literal(1)))


@pytest.mark.parametrize(("xml", "code", "fragment"), [
    ("<query schema='nms:recipient'/>", errors.BAD_QUERY, "expected a <queryDef>"),
    ("<queryDef/>", errors.BAD_QUERY, "no schema attribute"),
    ("<queryDef schema='recipient'/>", errors.BAD_QUERY, "namespace:name"),
    ("<queryDef schema='nms:recipient' operation='update'/>", errors.BAD_QUERY, "operation 'update'"),
    ("<queryDef schema='nms:recipient' lineCount='ten'/>", errors.BAD_QUERY, "lineCount 'ten'"),
    ("<queryDef schema='nms:recipient'><select><node/></select></queryDef>", errors.BAD_QUERY, "no expr"),
    ("<queryDef schema='nms:recipient'><select><field expr='@a'/></select></queryDef>", errors.BAD_QUERY, "<field>"),
    ("<queryDef schema='nms:recipient'><where><node expr='@a = 1'/></where></queryDef>", errors.BAD_QUERY, "<node>"),
    ("<queryDef schema='nms:recipient'><subQuery/></queryDef>", errors.BAD_QUERY, "<subQuery>"),
    ("<queryDef schema='nms:recipient'><having><node expr='@a'/></having></queryDef>", errors.BAD_QUERY,
     "<node> in <having>"),
    ("<queryDef schema='nms:recipient'><where><condition expr='@a = 1' boolOperator='XOR'/></where></queryDef>",
     errors.BAD_QUERY, "boolOperator 'XOR'"),
    ("<queryDef schema='nms:recipient'><where><condition expr='@a ='/></where></queryDef>",
     errors.EXPRESSION_SYNTAX, "condition 1: unexpected end"),
    ("<queryDef schema='nms:recipient'><select><node expr='@a' alias='1x'/></select></queryDef>",
     errors.BAD_QUERY, "alias '1x'"),
    ("<queryDef schema='nms:recipient'><select><node expr='@a' alias='@x-y'/></select></queryDef>",
     errors.BAD_QUERY, "alias"),
])
def test_refusals(xml: str, code: errors.Code, fragment: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse(xml)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_condition_count_and_depth_limits() -> None:
    many = "".join("<condition expr='@a = 1'/>" for _ in range(201))
    with pytest.raises(FerryError) as caught:
        parse(f"<queryDef schema='nms:recipient'><where>{many}</where></queryDef>")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX
    deep = "<condition>" * 17 + "<condition expr='@a = 1'/>" + "</condition>" * 17
    with pytest.raises(FerryError) as caught:
        parse(f"<queryDef schema='nms:recipient'><where>{deep}</where></queryDef>")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX


def test_query_from_params() -> None:
    query = query_from_params("nms:recipient", fields="email, @firstName", filter="@email like '%@x.com'",
                              order="-email,+firstName,lastName", limit=5, offset=10)
    assert [n.expr for n in query.select] == [AttrRef("email"), AttrRef("firstName")]
    assert query.where == Binary("LIKE", AttrRef("email"), Literal("%@x.com"))
    assert [(n.expr, n.desc) for n in query.order_by] == [
        (AttrRef("email"), True), (AttrRef("firstName"), False), (AttrRef("lastName"), False)]
    assert (query.line_count, query.start_line, query.operation) == (5, 10, Operation.SELECT)
    bare = query_from_params("nms:recipient")
    assert bare.select == () and bare.where is None and bare.line_count is None


@pytest.mark.parametrize("kwargs", [
    {"fields": "Lower(email)"},
    {"fields": "email,,firstName"},
    {"order": "email desc"},
    {"order": "-email;drop"},
    {"filter": "@email = 'x';"},
    {"limit": -1},
    {"offset": -5},
    {"operation": "delete"},
])
def test_query_from_params_refusals(kwargs: dict[str, object]) -> None:
    with pytest.raises(FerryError) as caught:
        query_from_params("nms:recipient", **kwargs)  # type: ignore[arg-type]
    assert caught.value.code.code.startswith("FRY-700")


def test_many_conditions_make_a_shallow_tree() -> None:
    from ferry.query.ast import depth
    many = "".join("<condition expr='@a = 1'/>" for _ in range(200))
    query = parse(f"<queryDef schema='nms:recipient'><where>{many}</where></queryDef>")
    assert query.where is not None and depth(query.where) <= 10
