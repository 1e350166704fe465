"""A literal of one element holding only attributes (a record) makes its nodes only when asked: the text the host
is given, and every E4X operation on it, are those of the nodes made at once."""

from __future__ import annotations

import pytest
import quickjs

from ferry.scripts.e4x import RUNTIME_JS, translate

from .test_translator import run

# Literals whose host text comes from the kept attribute values, each with values needing escapes, XML values,
# objects with toString, several slots, static attributes before and after.
FLAT = [
    '<recipient xtkschema="nms:recipient" email={"a" + i + "@x.test"} firstName="Ann"\n   lastName="Lee"/>',
    '<r a={"x&y<z\\"q\\n\\t\\r"} b=\'s"t\' c="&amp;&lt;"/>',
    "<r a={i} b={i * 2} c={null} d={undefined} e={true}/>",
    "<r a={<b>t</b>} c={<x y=\"1\"/>.@y} d={{toString: function () { return 'obj' + i; }}}/>",
    "<r/>",
    "<r a={'only'}/>",
]


def host_texts(literal: str, touch: str = "") -> list[str]:
    """`__e4x_toXMLString` (what the shim hands the host) of `literal`, built for i in 0..2, after `touch`."""
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    code = translate(f"var out = []; for (var i = 0; i < 3; i++) {{ var x = {literal}; {touch}"
                     "out.push(__e4x_toXMLString(x)); } out.join('|');").code
    return str(ctx.eval(code)).split("|")


@pytest.mark.parametrize("literal", FLAT)
def test_the_host_text_of_a_record_literal_is_that_of_its_nodes(literal: str) -> None:
    # Reading an attribute makes the attribute nodes: the text then comes from them, the usual way.
    assert host_texts(literal) == host_texts(literal, "x.@none; ")


@pytest.mark.parametrize("literal", FLAT)
def test_records_appended_to_a_collection_give_the_text_of_their_nodes(literal: str) -> None:
    # As the host gets it, and pretty-printed (toXMLString), before and after the attribute nodes are made.
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    code = translate(f"var all = <c/>; for (var i = 0; i < 3; i++) all.appendChild({literal});\n"
                     "var texts = [__e4x_toXMLString(all), all.toXMLString()];\n"
                     "for each (var r in all.*) r.@none; texts.push(__e4x_toXMLString(all), all.toXMLString());\n"
                     "texts.join('|');").code
    fast_host, fast_pretty, made_host, made_pretty = str(ctx.eval(code)).split("|")
    assert (fast_host, fast_pretty) == (made_host, made_pretty)


def test_a_record_literal_changed_after_it_is_made_gives_the_changed_text() -> None:
    out = host_texts('<r a={"v" + i} b="2"/>', 'x.@a = "w&" + i; x.@c = 3; x.appendChild(<k/>); ')
    assert out == [f'<r a="w&amp;{i}" b="2" c="3"><k/></r>' for i in range(3)]
    assert host_texts('<r a={"v" + i}/>', "x.appendChild(<k/>); ") == [f'<r a="v{i}"><k/></r>' for i in range(3)]
    assert host_texts('<r a={"v" + i}/>', "x.setName('s'); ") == [f'<s a="v{i}"/>' for i in range(3)]
    out = host_texts("<r a={i}/>", "var c = <c/>; c.appendChild(<r a={i}/>); c.r.@a = 'z'; c.r.setName('t'); "
                     "x = c; ")
    assert out == ['<c><t a="z"/></c>'] * 3


def test_a_record_literal_converts_its_values_when_made_in_their_order() -> None:
    out = run("var seen = [];\n"
              "function v(n) { return {toString: function () { seen.push(n); return n; }}; }\n"
              "var x = <r b={v('1')} a={v('2')}/>;\n"
              "print(seen.join(','));\n"
              "var y = <y/>; var z = <r a={y}/>; y.@q = 'late';\n"
              "print(__e4x_toXMLString(z)); print(z.@a); print(seen.join(','));")
    assert out == ["1,2", '<r a=""/>', "", "1,2"]


def test_a_record_literal_answers_every_operation_as_its_nodes_would() -> None:
    out = run('var x = <r a={"1"} b="2"/>;\n'
              "print(typeof x, x.@a, x.attributes().length(), x.length(), x.name(), x == <r a=\"1\" b=\"2\"/>);\n"
              "var c = <c/>; var w = <r a={'3'}/>; c.appendChild(w); w.@a = '4'; print(c.toXMLString());\n"
              "var u = <r a={'5'}/>; u.@a = '6'; print(u.toXMLString()); var k = u.copy(); k.@a = '7';\n"
              "print(u.@a, k.@a); for each (var n in <r a={'8'}/>) print(n.@a);\n"
              "var q = <r a={'9'}/>; delete q.@a; print(q.toXMLString(), 'a' in q, q.hasSimpleContent());")
    # appendChild puts a copy of w in c (as this runtime always has): w changed after it is not c's child.
    assert out == ["xml 1 2 1 r true", '<c>\n  <r a="3"/>\n</c>', '<r a="6"/>', "6 7", "8", "<r/> false true"]
