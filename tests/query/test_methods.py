"""xtk:queryDef's SelectAll, BuildQuery / BuildQueryEx and Analyze, without a server."""

from __future__ import annotations

from lxml import etree

from ferry.query import compile_query, parse_query_def
from ferry.query.methods import describe_query, format_string, select_all, statement_text
from ferry.schema import builtin_schemas

RECIPIENT = next(schema for schema in builtin_schemas() if schema.id == "nms:recipient")
QUERY = ('<queryDef schema="nms:recipient" operation="get"><select><node expr="@email"/>'
         '<node expr="@gender"/></select><where><condition expr="@email = \'o\\\'k@x.com\'"/></where></queryDef>')


def test_select_all_adds_every_attribute_after_the_selected_ones() -> None:
    result = select_all(etree.fromstring(QUERY), RECIPIENT.attributes)
    exprs = [node.get("expr") for node in result.find("select")]  # type: ignore[union-attr]
    assert exprs[:2] == ["@email", "@gender"]
    assert sorted(exprs) == sorted(f"@{name}" for name in RECIPIENT.attribute_names)
    assert parse_query_def(result).select  # the SDK sends it back as the query: it must parse
    bare = select_all(etree.fromstring('<queryDef schema="nms:recipient"/>'), RECIPIENT.attributes)
    assert len(bare.find("select")) == len(RECIPIENT.attributes)  # type: ignore[arg-type]


def test_build_query_shows_the_statement_with_its_values() -> None:
    compiled = compile_query(parse_query_def(etree.fromstring(QUERY)), RECIPIENT, '"nms_recipient"', "duckdb")
    text = statement_text(compiled, "?")
    assert text.startswith('SELECT "email" AS "c0", "gender" AS "c1" FROM "nms_recipient" WHERE')
    assert "'o''k@x.com'" in text and "?" not in text
    assert format_string(compiled.columns) == "string,byte"


def test_analyze_describes_each_select_node() -> None:
    compiled = compile_query(parse_query_def(etree.fromstring(QUERY)), RECIPIENT, '"nms_recipient"', "duckdb")
    nodes = describe_query(etree.fromstring(QUERY), RECIPIENT, compiled.columns).find("select")
    assert nodes is not None
    assert [dict(node.attrib) for node in nodes] == [
        {"alias": "email", "type": "string", "expr": "@email", "label": "Email"},
        {"alias": "gender", "type": "byte", "expr": "@gender", "label": "Gender", "enum": "nms:recipient:gender"},
    ]
