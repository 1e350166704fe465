"""Tokenizer for Campaign (xtk) expressions: a closed set of token kinds, anything else is refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from ferry import errors
from ferry.errors import FerryError

MAX_EXPRESSION_LENGTH = 4000
_BRACKETED = re.compile(r"\[@([A-Za-z_][A-Za-z0-9_]*)\]")
_LINK_PATH = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*/@[A-Za-z_][A-Za-z0-9_]*)\]")
# Element paths the schema being queried answers (`[enum/@name]` of xtk:enumValue → its attribute enumName), set by
# `ferry.query.querydef` while it parses that schema's queryDef; any other path is refused.
LINK_PATHS: ContextVar[Mapping[str, str]] = ContextVar("ferry_query_link_paths", default=MappingProxyType({}))

KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "IS", "NULL", "IN", "TRUE", "FALSE"})
_OPERATORS = ("<=", ">=", "<>", "!=", "=", "<", ">", "(", ")", ",", "+", "-", "*", "/")
# The escapes `sdk.escapeXtk` produces (plus \" for double-quoted strings); anything else is refused.
_ESCAPES = {"'": "'", "\\": "\\", '"': '"'}


class Kind(StrEnum):
    """Token kinds."""

    ATTR = "attribute"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "operator"
    END = "end"


@dataclass(frozen=True)
class Token:
    """One token; `column` is 1-based in the expression text."""

    kind: Kind
    text: str
    column: int
    value: str | int | Decimal | None = None


def shown(text: str, limit: int = 40) -> str:
    """A short, quoted view of client text for error messages."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def syntax_error(source: str, column: int, what: str, hint: str = "") -> FerryError:
    """A FRY-700002 error naming the offending text and its column."""
    message = f"{what} at column {column} of expression {shown(source, 80)}"
    return FerryError(errors.EXPRESSION_SYNTAX, f"{message}; {hint}" if hint else message)


def tokenize(source: str) -> list[Token]:
    """Split an expression into tokens, ending with an END token."""
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise FerryError(errors.EXPRESSION_TOO_COMPLEX,
                         f"expression of {len(source)} characters is longer than {MAX_EXPRESSION_LENGTH}")
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch == "@":
            j = _name_end(source, i + 1)
            if j == i + 1:
                raise syntax_error(source, col, "'@' must be followed by an attribute name")
            tokens.append(Token(Kind.ATTR, source[i:j], col, source[i + 1 : j]))
            i = j
        elif ch in "'\"":
            value, i = _string(source, i)
            tokens.append(Token(Kind.STRING, source[col - 1 : i], col, value))
        elif (ch.isascii() and ch.isdigit()) or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            token, i = _number(source, i)
            tokens.append(token)
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = _name_end(source, i)
            word = source[i:j]
            kind = Kind.KEYWORD if word.upper() in KEYWORDS else Kind.NAME
            tokens.append(Token(kind, word, col, word.upper() if kind is Kind.KEYWORD else word))
            i = j
        elif source.startswith(("--", "/*"), i):
            raise syntax_error(source, col, f"comment {shown(source[i:i + 2])} is not allowed")
        elif ch == ";":
            raise syntax_error(source, col, "';' is not allowed")
        elif ch == "[" and (bracketed := _BRACKETED.match(source, i)):
            # [@name] is Campaign's bracketed spelling of the plain attribute @name.
            tokens.append(Token(Kind.ATTR, bracketed.group(0), col, bracketed.group(1)))
            i = bracketed.end()
        elif ch == "[" and (path := _LINK_PATH.match(source, i)) and path.group(1) in LINK_PATHS.get():
            tokens.append(Token(Kind.ATTR, path.group(0), col, LINK_PATHS.get()[path.group(1)]))
            i = path.end()
        elif ch == "[":
            raise syntax_error(source, col, "element paths such as [link/@x] are not supported",
                               "only attributes of the schema (@name) can be queried")
        else:
            op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
            if op is None:
                raise syntax_error(source, col, f"unexpected {shown(ch)}")
            tokens.append(Token(Kind.OP, op, col, op))
            i += len(op)
    tokens.append(Token(Kind.END, "", n + 1))
    return tokens


def _name_end(source: str, start: int) -> int:
    j = start
    if j < len(source) and source[j].isascii() and (source[j].isalpha() or source[j] == "_"):
        j += 1
        while j < len(source) and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
            j += 1
    return j


def _string(source: str, start: int) -> tuple[str, int]:
    quote = source[start]
    out: list[str] = []
    i = start + 1
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            if i + 1 >= len(source):
                break
            escaped = source[i + 1]
            if escaped not in _ESCAPES:
                raise syntax_error(source, i + 1, f"unknown escape {shown(ch + escaped)} in a string")
            out.append(_ESCAPES[escaped])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        elif ch == "\x00":
            raise syntax_error(source, i + 1, "NUL character in a string")
        else:
            out.append(ch)
            i += 1
    raise syntax_error(source, start + 1, "unterminated string")


def _number(source: str, start: int) -> tuple[Token, int]:
    i = start
    while i < len(source) and source[i].isascii() and source[i].isdigit():
        i += 1
    is_decimal = i < len(source) and source[i] == "."
    if is_decimal:
        i += 1
        while i < len(source) and source[i].isascii() and source[i].isdigit():
            i += 1
    if i < len(source) and source[i].isascii() and (source[i].isalpha() or source[i] == "_"):
        raise syntax_error(source, start + 1, f"malformed number {shown(source[start:_name_end(source, i)])}")
    text = source[start:i]
    if is_decimal:
        if len(text) > 40:
            raise syntax_error(source, start + 1, f"number {shown(text)} is too long")
        return Token(Kind.DECIMAL, text, start + 1, Decimal(text)), i
    if len(text) > 19 or int(text) > 2**63 - 1:
        raise syntax_error(source, start + 1, f"number {shown(text)} is too large")
    return Token(Kind.INTEGER, text, start + 1, int(text)), i
