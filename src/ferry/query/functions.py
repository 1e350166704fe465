"""The whitelist of functions an expression may call, with their arity and kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    """A function clients may call; `aggregate` ones force a GROUP BY of the other selected nodes."""

    name: str
    min_args: int
    max_args: int | None
    aggregate: bool = False


_FUNCTIONS = (
    Function("Lower", 1, 1),
    Function("Upper", 1, 1),
    Function("Trim", 1, 1),
    Function("LTrim", 1, 1),
    Function("RTrim", 1, 1),
    Function("Length", 1, 1),
    Function("Substring", 2, 3),
    Function("Concat", 1, None),
    Function("Abs", 1, 1),
    Function("Round", 1, 2),
    Function("Floor", 1, 1),
    Function("Ceil", 1, 1),
    Function("Coalesce", 2, None),
    Function("Year", 1, 1),
    Function("Month", 1, 1),
    Function("Day", 1, 1),
    Function("GetDate", 0, 0),
    Function("Count", 0, 1, aggregate=True),
    Function("Sum", 1, 1, aggregate=True),
    Function("Min", 1, 1, aggregate=True),
    Function("Max", 1, 1, aggregate=True),
    Function("Avg", 1, 1, aggregate=True),
    Function("CountDistinct", 1, 1, aggregate=True),
)

# Case-insensitive lookup; Campaign spellings that mean the same function are aliases.
FUNCTIONS: dict[str, Function] = {f.name.lower(): f for f in _FUNCTIONS}
FUNCTIONS["len"] = FUNCTIONS["length"]
FUNCTIONS["isnull"] = FUNCTIONS["coalesce"]


def lookup(name: str) -> Function | None:
    """The whitelisted function spelled `name` (any case), or None."""
    return FUNCTIONS.get(name.lower())
