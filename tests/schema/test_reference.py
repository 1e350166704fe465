"""docs/schemas.md is exactly what the generator writes from the built-in schemas."""

from __future__ import annotations

from pathlib import Path

from ferry.schema.loader import builtin_schemas
from ferry.schema.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "schemas.md"


def test_committed_reference_matches_the_generator() -> None:
    expected = render(builtin_schemas())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/schemas.md is stale: run `python -m ferry.schema.reference > docs/schemas.md`")


def test_every_builtin_attribute_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for schema in builtin_schemas():
        assert f"## {schema.id}\n" in text
        section = text.split(f"## {schema.id}\n", 1)[1].split("\n## ", 1)[0]
        for attr in schema.attributes:
            assert f"| `@{attr.name}` | {attr.type.value} |" in section
