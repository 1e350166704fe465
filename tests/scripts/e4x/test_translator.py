"""The E4X translation: output that runs in QuickJS after the runtime, positions, hard cases, syntax errors."""

from __future__ import annotations

import pytest
import quickjs

from ferry.errors import SCRIPT_SYNTAX, FerryError
from ferry.scripts.e4x import RUNTIME_JS, translate


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
    assert f"job.js:{where}" in raised.value.message
