"""The expression tree. Nodes compare by structure (positions are ignored) so equal expressions match."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

LiteralValue = str | int | Decimal | bool | None


@dataclass(frozen=True)
class Literal:
    """A constant; always bound as a parameter (NULL is written as the keyword)."""

    value: LiteralValue


@dataclass(frozen=True)
class AttrRef:
    """`@name`: an attribute of the queried schema."""

    name: str
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """`-x` or `NOT x`."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary:
    """Arithmetic (`+ - * /`), comparison (`= != < <= > >=`), `LIKE`, `NOT LIKE`, `AND`, `OR`."""

    op: str
    left: Expr
    right: Expr
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class IsNull:
    """`x IS NULL` / `x IS NOT NULL`."""

    operand: Expr
    negated: bool = False


@dataclass(frozen=True)
class InList:
    """`x IN (a, b, …)` / `x NOT IN (…)`."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A whitelisted function; `name` is the canonical spelling (see functions.py)."""

    name: str
    args: tuple[Expr, ...]
    column: int = field(default=0, compare=False)


Expr = Literal | AttrRef | Unary | Binary | IsNull | InList | Call

COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/"})
LOGICAL = frozenset({"AND", "OR"})
LIKES = frozenset({"LIKE", "NOT LIKE"})


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, IsNull):
        return (node.operand,)
    if isinstance(node, InList):
        return (node.operand, *node.items)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Expr) -> list[Expr]:
    """Every node of the tree, depth first."""
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out


def depth(node: Expr) -> int:
    """The height of the tree, computed without recursion (trees are checked before recursive compilation)."""
    deepest = 0
    stack: list[tuple[Expr, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest
