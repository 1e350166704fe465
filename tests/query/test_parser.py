"""The xtk expression tokenizer and parser: precedence, nesting, IN lists, escapes, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.query import parse_expression
from ferry.query.ast import AttrRef, Binary, Call, InList, IsNull, Literal, Unary
from ferry.query.parser import MAX_DEPTH
from ferry.query.tokens import MAX_EXPRESSION_LENGTH, Kind, tokenize


def test_tokens_cover_every_kind() -> None:
    kinds = [t.kind for t in tokenize("@email <> 'a' AND Lower(@x) >= 1.5 OR 3")]
    assert kinds == [Kind.ATTR, Kind.OP, Kind.STRING, Kind.KEYWORD, Kind.NAME, Kind.OP, Kind.ATTR, Kind.OP,
                     Kind.OP, Kind.DECIMAL, Kind.KEYWORD, Kind.INTEGER, Kind.END]


def test_columns_are_one_based() -> None:
    assert [t.column for t in tokenize("@a = 'b'")] == [1, 4, 6, 9]


@pytest.mark.parametrize(("source", "value"), [
    (r"'it\'s'", "it's"),
    (r"'back\\slash'", "back\\slash"),
    (r"'a\\'", "a\\"),
    ('"double \\" quote"', 'double " quote'),
    ('"it\'s"', "it's"),
    ("'%@x.com'", "%@x.com"),
    ("''", ""),
    ("'-- not a comment; /* nor this */'", "-- not a comment; /* nor this */"),
])
def test_string_escapes(source: str, value: str) -> None:
    assert parse_expression(source) == Literal(value)


def test_bracketed_attribute_is_the_plain_attribute() -> None:
    assert parse_expression("[@email] = 'x'") == parse_expression("@email = 'x'")


def test_numbers_and_constants() -> None:
    assert parse_expression("42") == Literal(42)
    assert parse_expression("-42") == Literal(-42)
    assert parse_expression("3.25") == Literal(Decimal("3.25"))
    assert parse_expression("true") == Literal(True)
    assert parse_expression("FALSE") == Literal(False)
    assert parse_expression("null") == Literal(None)


def test_and_binds_tighter_than_or() -> None:
    tree = parse_expression("@a = 1 OR @b = 2 AND @c = 3")
    assert isinstance(tree, Binary) and tree.op == "OR"
    assert isinstance(tree.right, Binary) and tree.right.op == "AND"


def test_parentheses_override_precedence() -> None:
    tree = parse_expression("(@a = 1 OR @b = 2) AND @c = 3")
    assert isinstance(tree, Binary) and tree.op == "AND"
    assert isinstance(tree.left, Binary) and tree.left.op == "OR"


def test_arithmetic_precedence_and_left_associativity() -> None:
    tree = parse_expression("@a - @b - @c * 2 + 1")
    # ((a - b) - (c * 2)) + 1
    assert tree == Binary("+", Binary("-", Binary("-", AttrRef("a"), AttrRef("b")),
                                      Binary("*", AttrRef("c"), Literal(2))), Literal(1))


def test_not_and_comparisons() -> None:
    assert parse_expression("NOT @a = 1") == Unary("NOT", Binary("=", AttrRef("a"), Literal(1)))
    assert parse_expression("@a <> 1") == parse_expression("@a != 1")


def test_like_is_null_in() -> None:
    assert parse_expression("@e like '%x'") == Binary("LIKE", AttrRef("e"), Literal("%x"))
    assert parse_expression("@e NOT LIKE '%x'") == Binary("NOT LIKE", AttrRef("e"), Literal("%x"))
    assert parse_expression("@e IS NULL") == IsNull(AttrRef("e"))
    assert parse_expression("@e is not null") == IsNull(AttrRef("e"), negated=True)
    assert parse_expression("@g IN (1, 2, '3')") == InList(AttrRef("g"), (Literal(1), Literal(2), Literal("3")))
    assert parse_expression("@g not in (1)") == InList(AttrRef("g"), (Literal(1),), negated=True)


def test_functions_are_case_insensitive_with_aliases() -> None:
    assert parse_expression("lower(@e)") == Call("Lower", (AttrRef("e"),))
    assert parse_expression("LEN(@e)") == Call("Length", (AttrRef("e"),))
    assert parse_expression("IsNull(@e, 'x')") == Call("Coalesce", (AttrRef("e"), Literal("x")))
    assert parse_expression("count()") == Call("Count", ())
    assert parse_expression("Substring(@e, 1, 3)") == Call("Substring", (AttrRef("e"), Literal(1), Literal(3)))


def test_deep_but_allowed_nesting() -> None:
    source = "(" * (MAX_DEPTH - 2) + "@a = 1" + ")" * (MAX_DEPTH - 2)
    assert parse_expression(source) == Binary("=", AttrRef("a"), Literal(1))


@pytest.mark.parametrize(("source", "code", "fragment"), [
    ("@email = 'x'; DROP TABLE t", errors.EXPRESSION_SYNTAX, "';' is not allowed at column 13"),
    ("@email = 'x' -- comment", errors.EXPRESSION_SYNTAX, "comment '--' is not allowed at column 14"),
    ("@email /* c */ = 'x'", errors.EXPRESSION_SYNTAX, "comment '/*' is not allowed at column 8"),
    ("pg_sleep(10)", errors.FUNCTION_NOT_ALLOWED, "function 'pg_sleep' at column 1"),
    ("read_csv('/etc/passwd')", errors.FUNCTION_NOT_ALLOWED, "'read_csv'"),
    ("@email = version()", errors.FUNCTION_NOT_ALLOWED, "'version' at column 10"),
    ("[location/@city] = 'x'", errors.EXPRESSION_SYNTAX, "element paths"),
    ('@email"; DROP', errors.EXPRESSION_SYNTAX, "unterminated string at column 7"),
    ("@email = 'x", errors.EXPRESSION_SYNTAX, "unterminated string at column 10"),
    ("email = 'x'", errors.EXPRESSION_SYNTAX, "unknown name 'email' at column 1"),
    ("@ = 1", errors.EXPRESSION_SYNTAX, "column 1"),
    ("@a = 1 1", errors.EXPRESSION_SYNTAX, "unexpected '1' at column 8"),
    ("@a = ", errors.EXPRESSION_SYNTAX, "unexpected end of expression"),
    ("@a IN ()", errors.EXPRESSION_SYNTAX, "unexpected ')'"),
    ("@a IS 1", errors.EXPRESSION_SYNTAX, "expected NULL"),
    ("@a = 'x\\n'", errors.EXPRESSION_SYNTAX, "unknown escape"),
    ("@a = 1 | 2", errors.EXPRESSION_SYNTAX, "unexpected '|' at column 8"),
    ("@a = 0x10", errors.EXPRESSION_SYNTAX, "malformed number"),
    ("@a = 9223372036854775808", errors.EXPRESSION_SYNTAX, "too large"),
    ("@a = 1." + "1" * 50, errors.EXPRESSION_SYNTAX, "too long"),
    ("Lower(@a, @b)", errors.EXPRESSION_SYNTAX, "Lower takes 1 argument(s), not 2"),
    ("GetDate(1)", errors.EXPRESSION_SYNTAX, "GetDate takes 0"),
    ("", errors.EXPRESSION_SYNTAX, "empty expression"),
    ("@a = $1", errors.EXPRESSION_SYNTAX, "unexpected '$'"),
    ("@a = `x`", errors.EXPRESSION_SYNTAX, "unexpected '`'"),
])
def test_refusals_name_the_text_and_column(source: str, code: errors.Code, fragment: str) -> None:
    with pytest.raises(FerryError) as caught:
        parse_expression(source)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_length_and_depth_limits() -> None:
    with pytest.raises(FerryError) as caught:
        parse_expression("@a = '" + "x" * MAX_EXPRESSION_LENGTH + "'")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX
    with pytest.raises(FerryError) as caught:
        parse_expression("(" * (MAX_DEPTH + 1) + "@a" + ")" * (MAX_DEPTH + 1))
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX
    with pytest.raises(FerryError) as caught:
        parse_expression("NOT " * (MAX_DEPTH + 1) + "@a")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX
    with pytest.raises(FerryError) as caught:
        parse_expression("@a IN (" + ", ".join(["1"] * 1001) + ")")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX


def test_error_text_carries_the_code() -> None:
    with pytest.raises(FerryError) as caught:
        parse_expression("pg_sleep(10)")
    assert caught.value.text.startswith("FRY-700004 ")


def test_long_flat_chains_are_bounded() -> None:
    with pytest.raises(FerryError) as caught:
        parse_expression(" + ".join(["@g"] * 300) + " = 1")
    assert caught.value.code == errors.EXPRESSION_TOO_COMPLEX
    assert parse_expression(" + ".join(["@g"] * 60) + " = 1") is not None


def test_nul_in_a_string_is_refused() -> None:
    with pytest.raises(FerryError) as caught:
        parse_expression("@a = 'x\x00y'")
    assert "NUL" in caught.value.message
