"""Arbitrary expression text: the parser and compiler either build bound SQL or raise a FerryError, nothing else."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.errors import FerryError
from ferry.query import compile_query, query_from_params
from ferry.schema import SchemaRegistry, builtin_schemas

RECIPIENT = SchemaRegistry(builtin_schemas()).get("nms:recipient")
PIECES = ["@email", "@gender", "@birthDate", "@blackList", "@nope", "[@email]", "[a/@b]", "'x'", "'it\\'s'", '"q"',
          "1", "2.5", "-", "+", "*", "/", "=", "!=", "<>", "<", ">=", "(", ")", ",", " AND ", " OR ", " NOT ",
          " LIKE ", " IS NULL", " IS NOT NULL", " IN (", "Lower(", "Count(", "Sum(", "Concat(", "pg_sleep(", ";",
          "--", "/*", "NULL", "true", " ", "\\", "'", '"', "$1", "%s", "?"]
# Whatever the input, the SQL holds only these: schema identifiers, placeholders, keywords, constants of ours.
ALLOWED_SQL = re.compile(r'''^(?:"[A-Za-z_][A-Za-z0-9_]*"|\?|[A-Za-z_]+|[0-9]+|'\\'|''|[\s(),=<>!*/+\-])*$''')


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14))
def test_pieces_parse_or_refuse(pieces: list[str]) -> None:
    check("".join(pieces))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_refuses(text: str) -> None:
    check(text)


def check(text: str) -> None:
    assert RECIPIENT is not None
    try:
        query = query_from_params("nms:recipient", fields="email", filter=text)
        compiled = compile_query(query, RECIPIENT, '"t"', "duckdb")
    except FerryError:
        return
    assert ALLOWED_SQL.match(compiled.sql), compiled.sql
    assert compiled.sql.count("?") == len(compiled.params)
