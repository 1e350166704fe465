"""Recursive-descent parser: xtk expression text → expression tree (see ast.py).

Precedence, loosest first: OR, AND, NOT, comparison / LIKE / IS [NOT] NULL / [NOT] IN, `+ -`, `* /`, unary minus.
"""

from __future__ import annotations

from decimal import Decimal

from ferry import errors
from ferry.errors import FerryError
from ferry.query.ast import AttrRef, Binary, Call, Expr, InList, IsNull, Literal, Unary, depth
from ferry.query.functions import lookup
from ferry.query.tokens import Kind, Token, shown, syntax_error, tokenize

MAX_DEPTH = 32
# Height of the parsed tree: long flat chains (a + b + c …) nest too, and compilation recurses over the tree.
MAX_TREE_HEIGHT = 64
MAX_IN_ITEMS = 1000
_COMPARE = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def parse_expression(source: str) -> Expr:
    """Parse one expression; refuse anything outside the grammar with a FerryError naming text and column."""
    if not source.strip():
        raise FerryError(errors.EXPRESSION_SYNTAX, "empty expression")
    tree = _Parser(source).parse()
    if depth(tree) > MAX_TREE_HEIGHT:
        raise FerryError(errors.EXPRESSION_TOO_COMPLEX,
                         f"expression has more than {MAX_TREE_HEIGHT} levels of operators; split it into conditions")
    return tree


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def _peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        token = self.tok
        if token.kind is not Kind.END:
            self.pos += 1
        return token

    def _is_kw(self, word: str, token: Token | None = None) -> bool:
        token = token or self.tok
        return token.kind is Kind.KEYWORD and token.value == word

    def _is_op(self, op: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.value == op

    def _expect_op(self, op: str) -> Token:
        if not self._is_op(op):
            raise self._unexpected(f"expected {op!r}")
        return self._advance()

    def _unexpected(self, hint: str = "") -> FerryError:
        token = self.tok
        what = "unexpected end of expression" if token.kind is Kind.END else f"unexpected {shown(token.text)}"
        return syntax_error(self.source, token.column, what, hint)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FerryError(errors.EXPRESSION_TOO_COMPLEX,
                             f"expression nested deeper than {MAX_DEPTH} levels at column {self.tok.column}")

    # -- grammar ---------------------------------------------------------------------------------------------

    def parse(self) -> Expr:
        node = self._or()
        if self.tok.kind is not Kind.END:
            raise self._unexpected("expected an operator or the end of the expression")
        return node

    def _or(self) -> Expr:
        self._enter()
        node = self._and()
        while self._is_kw("OR"):
            column = self._advance().column
            node = Binary("OR", node, self._and(), column)
        self.depth -= 1
        return node

    def _and(self) -> Expr:
        node = self._not()
        while self._is_kw("AND"):
            column = self._advance().column
            node = Binary("AND", node, self._not(), column)
        return node

    def _not(self) -> Expr:
        if self._is_kw("NOT"):
            self._advance()
            self._enter()
            node = Unary("NOT", self._not())
            self.depth -= 1
            return node
        return self._predicate()

    def _predicate(self) -> Expr:
        left = self._additive()
        token = self.tok
        if token.kind is Kind.OP and token.value in _COMPARE:
            self._advance()
            return Binary(_COMPARE[token.text], left, self._additive(), token.column)
        if self._is_kw("IS"):
            self._advance()
            negated = self._is_kw("NOT")
            if negated:
                self._advance()
            if not self._is_kw("NULL"):
                raise self._unexpected("expected NULL after IS / IS NOT")
            self._advance()
            return IsNull(left, negated)
        negated = False
        if self._is_kw("NOT") and (self._is_kw("LIKE", self._peek()) or self._is_kw("IN", self._peek())):
            self._advance()
            negated = True
        if self._is_kw("LIKE"):
            column = self._advance().column
            return Binary("NOT LIKE" if negated else "LIKE", left, self._additive(), column)
        if self._is_kw("IN"):
            column = self._advance().column
            return InList(left, self._in_items(), negated, column)
        return left

    def _in_items(self) -> tuple[Expr, ...]:
        self._expect_op("(")
        items = [self._additive()]
        while self._is_op(","):
            self._advance()
            items.append(self._additive())
            if len(items) > MAX_IN_ITEMS:
                raise FerryError(errors.EXPRESSION_TOO_COMPLEX, f"IN list longer than {MAX_IN_ITEMS} values")
        self._expect_op(")")
        return tuple(items)

    def _additive(self) -> Expr:
        node = self._multiplicative()
        while self.tok.kind is Kind.OP and self.tok.value in ("+", "-"):
            token = self._advance()
            node = Binary(token.text, node, self._multiplicative(), token.column)
        return node

    def _multiplicative(self) -> Expr:
        node = self._unary()
        while self.tok.kind is Kind.OP and self.tok.value in ("*", "/"):
            token = self._advance()
            node = Binary(token.text, node, self._unary(), token.column)
        return node

    def _unary(self) -> Expr:
        if self._is_op("-"):
            self._advance()
            self._enter()
            operand = self._unary()
            self.depth -= 1
            if isinstance(operand, Literal) and isinstance(operand.value, int | Decimal) \
                    and not isinstance(operand.value, bool):
                return Literal(-operand.value)
            return Unary("-", operand)
        if self._is_op("+"):
            self._advance()
            return self._unary()
        return self._primary()

    def _primary(self) -> Expr:
        token = self.tok
        if token.kind is Kind.ATTR:
            self._advance()
            return AttrRef(str(token.value), token.column)
        if token.kind in (Kind.STRING, Kind.INTEGER, Kind.DECIMAL):
            self._advance()
            return Literal(token.value)
        if token.kind is Kind.KEYWORD and token.value in ("TRUE", "FALSE", "NULL"):
            self._advance()
            return Literal(None if token.value == "NULL" else token.value == "TRUE")
        if token.kind is Kind.NAME:
            return self._call()
        if self._is_op("("):
            self._advance()
            node = self._or()
            self._expect_op(")")
            return node
        raise self._unexpected("expected a value, an attribute, a function or '('")

    def _call(self) -> Expr:
        token = self._advance()
        if not self._is_op("("):
            raise syntax_error(self.source, token.column, f"unknown name {shown(token.text)}",
                               "attributes are written @name")
        function = lookup(token.text)
        if function is None:
            raise FerryError(errors.FUNCTION_NOT_ALLOWED,
                             f"function {shown(token.text)} at column {token.column} is not allowed; "
                             "allowed: Lower, Upper, Trim, LTrim, RTrim, Length, Substring, Concat, Abs, Round, "
                             "Floor, Ceil, Coalesce/IsNull, Year, Month, Day, GetDate, Count, Sum, Min, Max, Avg, "
                             "CountDistinct")
        self._advance()
        self._enter()
        args: list[Expr] = []
        if not self._is_op(")"):
            args.append(self._or())
            while self._is_op(","):
                self._advance()
                args.append(self._or())
        self._expect_op(")")
        self.depth -= 1
        if len(args) < function.min_args or (function.max_args is not None and len(args) > function.max_args):
            expected = (str(function.min_args) if function.max_args == function.min_args
                        else f"{function.min_args} or more" if function.max_args is None
                        else f"{function.min_args} to {function.max_args}")
            raise syntax_error(self.source, token.column,
                               f"{function.name} takes {expected} argument(s), not {len(args)}")
        return Call(function.name, tuple(args), token.column)
