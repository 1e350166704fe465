"""NULL flags beside the timestamp columns of a Snowflake query's result.

fakesnow (the emulator the tests run against) returns NULL TIMESTAMP_TZ / TIMESTAMP_NTZ values as 1970-01-01. A
query that selects `<expr> IS NULL AS "<name> IS NULL"` beside a timestamp column `<name>` lets
`SnowflakeWarehouse.select` put the NULLs back and drop the flag. Snowflake itself needs no flag; it costs one
BOOLEAN column. Attribute names never contain a space, so a flag's name cannot be an attribute's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SUFFIX = " IS NULL"


def flag_name(column: str) -> str:
    """The output name of `column`'s NULL flag."""
    return column + SUFFIX


def fold(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows without their flag columns; a flagged column is None where its flag is true."""
    position = {name: i for i, name in enumerate(names)}
    flags = [(i, position[name[:-len(SUFFIX)]]) for i, name in enumerate(names)
             if name.endswith(SUFFIX) and name[:-len(SUFFIX)] in position]
    if not flags:
        return [tuple(row) for row in rows]
    dropped = {flag for flag, _ in flags}
    kept = [i for i in range(len(names)) if i not in dropped]
    out = []
    for row in rows:
        values = list(row)
        for flag, target in flags:
            if values[flag]:
                values[target] = None
        out.append(tuple(values[i] for i in kept))
    return out
