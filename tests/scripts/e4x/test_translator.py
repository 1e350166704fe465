"""The E4X translation: output that runs in QuickJS after the runtime, positions, hard cases, syntax errors."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import quickjs

from ferry.errors import SCRIPT_SYNTAX, FerryError
from ferry.scripts.e4x import RUNTIME_JS, translate

HERE = Path(__file__).parent


def run(source: str) -> list[str]:
    """Runs an E4X script in QuickJS and returns what it printed."""
    ctx = quickjs.Context()
    printed: list[str] = []
    ctx.add_callable("__print", printed.append)
    ctx.eval(RUNTIME_JS)
    ctx.eval("function print() { __print(Array.prototype.map.call(arguments, String).join(' ')); }")
    ctx.eval(translate(source).code)
    return printed


def test_literal_with_expressions_attributes_and_serialisation() -> None:
    out = run(
        'var id = "a&b"; var x = <rec id={id} n="1"><name>{"<Bob>"}</name></rec>;\n'
        "print(x.@id); print(x.toXMLString()); print(x.@n == 1);"
    )
    assert out == ["a&b", '<rec id="a&amp;b" n="1">\n  <name>&lt;Bob&gt;</name>\n</rec>', "true"]


def test_lines_stay_aligned_and_positions_map_back() -> None:
    source = 'var a = 1;\nvar x = <a\n  b="1">\n  {a}\n</a>;\nvar y = x.@b == a; z.q;\n'
    t = translate(source)
    assert t.code.count("\n") == source.count("\n")
    line = t.code.split("\n")[5]
    column = line.index("z.q") + 1
    assert t.original_position(6, column) == (6, source.split("\n")[5].index("z.q") + 1)


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("var x = <a><b></a>;", "1:15"),
        ("var s = 'abc;", "1:9"),
        ("f(1;\n", "1:2"),
        ("var x = 1;\nx.@ = 2;", "2:5"),
        ("var x = <a>{</a>;", "1:"),
    ],
)
def test_syntax_errors_name_the_original_position(source: str, where: str) -> None:
    with pytest.raises(FerryError) as raised:
        translate(source, "job.js")
    assert raised.value.code == SCRIPT_SYNTAX
    # Script errors share the FRY-130xxx range (the E4X syntax code once sat at FRY-910001).
    assert raised.value.code.code == "FRY-130011"
    assert f"job.js:{where}" in raised.value.message


def engine_error_position(source: str) -> tuple[int, int]:
    """Where QuickJS says the translated script failed, mapped back to the original."""
    translation = translate(source)
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    with pytest.raises(quickjs.JSException) as raised:
        ctx.eval(translation.code)
    match = re.search(r"<input>:(\d+):(\d+)", str(raised.value))
    assert match is not None, str(raised.value)
    return translation.original_position(int(match.group(1)), int(match.group(2)))


def test_runtime_error_after_rewrites_on_the_same_line_points_at_the_original_column() -> None:
    source = 'var a = <a x="1"/>, b = <b x="1"/>;\nif (a.@x == b.@x && typeof a == "xml") nosuch();\n'
    assert engine_error_position(source) == (2, source.split("\n")[1].index("nosuch") + 1)


def test_runtime_error_after_a_multiline_literal_keeps_its_line() -> None:
    source = "var x = <a>\n  <b>{1}</b>\n  <c/>\n</a>;\n\n   missing.call();\n"
    assert engine_error_position(source) == (6, 4)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # `<` after `)`: an XML literal after an if head, a comparison after a call or a group.
        ("var x; if (true) x = <yes/>; print(x.name());", ["yes"]),
        ("function n() { return 1; } print(n() < 2, (1)<2);", ["true true"]),
        # Regex versus division.
        ('var a = 8, b = 2, g = 2; print(a / b / g, "a<b".replace(/</g, "&lt;"));', ["2 a&lt;b"]),
        ('var x = <a n="9"/>; print(x.@n / 3);', ["3"]),
        # Strings, comments and templates holding `<` are not XML; template substitutions may hold E4X.
        ("var s = '<a/>'; // <b/>\n/* <c> */ print(s, `<d>${<e v=\"1\"/>.@v}</d>`);", ["<a/> <d>1</d>"]),
        # `{a > b}` in a literal.
        ('var a = 2, b = 1; print(<r v={a > b}>{a > b ? "x" : "y"}</r>.toXMLString());', ['<r v="true">x</r>']),
        # Children named like methods, and the same names on ordinary objects.
        ('var p = <p><name>Ann</name></p>; var o = {name: "o"}; print(p.name, p.name(), o.name);', ["Ann p o"]),
        ('var o = {}; o.parent = 1; o.text = "t"; print(o.parent, o.text, "abc".replace("b", "-"));', ["1 t a-c"]),
        # An XML literal inside {…} of another literal (Rhino refuses it at compile time; ferry accepts it).
        ('var x = <a>{<b v="1"/>}</a>; print(x.b.@v, x.children().length());', ["1 1"]),
        # typeof of an undeclared name does not throw.
        ("print(typeof nothingHere, typeof <a/>);", ["undefined xml"]),
        # == by value across lines without semicolons (automatic semicolon insertion kept).
        ('var a = <a i="1"/>\nvar b = <b i="1"/>\nvar same = a.@i == b.@i\nprint(same)', ["true"]),
        # for each over a list, an array and an object.
        ('var s = []; for each (var v in <r><i>1</i><i>2</i></r>.i) s.push(v); print(s.join(""));', ["12"]),
        ("var s = 0; for each (var v in {a: 1, b: 2}) s += v; print(s);", ["3"]),
        # += on a list and on a child list.
        (
            "var x = <r><i/></r>; x.i += <i/>; var l = new XMLList(); l += <a/>; print(x.i.length(), l.length());",
            ["2 1"],
        ),
    ],
)
def test_hard_cases(source: str, expected: list[str]) -> None:
    assert run(source) == expected


def test_translation_keeps_every_line() -> None:
    source = (HERE / "probes" / "lit_multiline.js").read_text(encoding="utf-8")
    code = translate(source).code
    assert code.count("\n") == source.count("\n")
    assert code.split("\n")[-2].startswith("print(x.toXMLString())")


def test_a_literal_evaluated_again_is_a_new_value_with_its_own_values() -> None:
    source = (
        "var made = [];\n"
        'for (var i = 0; i < 3; i++) made.push(<r v={i}><n>{"x" + i}</n>hello {i}<{"t" + i}/></r>);\n'
        'made[0].@v = "changed"; made[0].n = "y";\n'
        "for each (var m in made) print(m.toXMLString());\n"
    )
    assert run(source) == [
        '<r v="changed">\n  <n>y</n>\n  hello 0\n  <t0/>\n</r>',
        '<r v="1">\n  <n>x1</n>\n  hello 1\n  <t1/>\n</r>',
        '<r v="2">\n  <n>x2</n>\n  hello 2\n  <t2/>\n</r>',
    ]


def test_host_helpers_turn_xml_into_compact_text_and_back() -> None:
    source = (
        'var doc = <recipient email={"a&b@x"}><note>  kept  </note></recipient>;\n'
        'print(__e4x_isXML(doc), __e4x_isXML("<a/>"), __e4x_isXML({}));\n'
        "print(__e4x_toXMLString(doc));\n"
        "var res = __e4x_fromXMLString("
        '\'<recipient-collection><recipient id="1"/><recipient id="2"/></recipient-collection>\');\n'
        "print(typeof res, res.recipient.length(), res.recipient[1].@id);\n"
    )
    assert run(source) == [
        "true false false",
        '<recipient email="a&amp;b@x"><note>kept</note></recipient>',
        "xml 2 2",
    ]


def _random_expression(rnd: random.Random, depth: int) -> str:
    atoms = ["a", "b", "c", "1", "0", '"1"', '"x"', "null", "undefined", "o.p", "o.q", "arr[1]", "f(a)", "(a)", "true"]
    if depth <= 0 or rnd.random() < 0.25:
        return rnd.choice(atoms)
    r = rnd.random()
    sub = lambda: _random_expression(rnd, depth - 1)  # noqa: E731
    if r < 0.55:
        return (
            f"{sub()} {rnd.choice(['==', '!=', '===', '!==', '+', '-', '*', '<', '>', '&&', '||', '&', '|'])} {sub()}"
        )
    if r < 0.65:
        return f"typeof {sub()}"
    if r < 0.75:
        return f"!{sub()}"
    if r < 0.85:
        return f"({sub()} ? {sub()} : {sub()})"
    if r < 0.92:
        return f"[{sub()}, {sub()}][0]"
    return f"f({sub()})"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_operator_rewrites_leave_ordinary_javascript_results_unchanged(seed: int) -> None:
    """`==`, `!=`, `+=` and `typeof` are routed to the runtime: on values that are not XML, every answer stays the
    engine's own (random expressions mixing precedences, chains and line breaks without semicolons)."""
    rnd = random.Random(seed)
    lines = ['var a = 1, b = "1", c = 0, o = {p: 1, q: "x"}, arr = [1, "2"]; function f(x) { return x; }; var r = [];']
    for k in range(300):
        e = _random_expression(rnd, 4)
        form = rnd.random()
        if form < 0.6:
            lines.append(f"r.push(String({e}));")
        elif form < 0.8:
            lines.append(f"var t{k} = {e}\nr.push(String(t{k}))")
        else:
            lines.append(f"var u{k} = 0; u{k} += {e}; r.push(String(u{k}));")
    source = "\n".join(lines) + "\nJSON.stringify(r)"
    plain = quickjs.Context().eval(source)
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    assert ctx.eval(translate(source).code) == plain


def test_reading_a_method_like_name_of_undefined_fails_as_without_translation() -> None:
    ctx = quickjs.Context()
    ctx.eval(RUNTIME_JS)
    with pytest.raises(quickjs.JSException, match="cannot read property 'name' of undefined"):
        ctx.eval(translate("var rec;\nrec.name;\n").code)


def test_names_in_a_namespace_are_found_by_prefix_not_by_bare_name() -> None:
    source = (
        'var x = <r xmlns:p="http://p"><p:item>1</p:item><item>2</item></r>;\n'
        'var d = <a xmlns="http://u"><b/></a>;\n'
        'print(x.item, x["p:item"], x..item.length(), d.b.length(), d.children().length());\n'
    )
    assert run(source) == ["2 1 1 0 1"]


def test_a_script_translated_again_in_the_same_process_is_not_translated_anew() -> None:
    source = "var x = <a b={1}/>;\nprint(x.@b);\n"
    assert translate(source, "again.js") is translate(source, "again.js")
    assert translate(source, "again.js") is not translate(source, "other.js")  # positions name the file


def test_filters_work_in_strict_mode_scripts() -> None:
    source = '"use strict";\nvar want = "2";\nvar x = <r><p id="1"><n>A</n></p><p id="2"><n>B</n></p></r>;\n'
    source += 'print(x.p.(@id == want).n, x.p.(n == "A").@id, x.p.((v => v == "B")(n)).@id);\n'
    assert run(source) == ["B 1 2"]


def test_typeof_an_undeclared_name_inside_a_filter_is_undefined() -> None:
    source = (
        'var x = <r><p><n>A</n></p></r>;\nprint(x.p.(typeof nothing == "undefined" && typeof n == "xml").length());\n'
    )
    assert run(source) == ["1"]


def test_append_child_of_a_literal_builds_in_place_with_the_same_results() -> None:
    out = run(
        'var x = <a/>; var v = "1&2";\n'
        "for (var i = 0; i < 2; i++) x.appendChild(<b n={i} v={v}>{i}<c/></b>);\n"
        "x.appendChild(<>{v}<d/></>);\n"
        "var r = x.appendChild(<{'e' + 1}/>); print(r === x);\n"
        "var one = <r><q/></r>.q; one.appendChild(<z/>); print(one.toXMLString());\n"
        "try { <r><q/><q/></r>.q.appendChild(<z/>); } catch (e) { print(e.name); }\n"
        "var got = []; var o = {appendChild: function (v) { got.push(v.name()); return 7; }};\n"
        "print(o.appendChild(<mine/>), got);\n"
        "print(x.toXMLString());"
    )
    assert out == [
        "true",
        "<q>\n  <z/>\n</q>",
        "TypeError",
        "7 mine",
        '<a>\n  <b n="0" v="1&amp;2">\n    0\n    <c/>\n  </b>\n  <b n="1" v="1&amp;2">\n    1\n    <c/>\n  </b>\n'
        "  1&amp;2\n  <d/>\n  <e1/>\n</a>",
    ]
