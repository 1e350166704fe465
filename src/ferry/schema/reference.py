"""docs/schemas.md: a reference of each built-in schema's attributes and keys, generated from its srcSchema XML.

Regenerate with `python -m ferry.schema.reference > docs/schemas.md`; a test checks the committed file matches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ferry.schema.loader import builtin_schemas
from ferry.schema.model import Schema

HEADER = """\
# Built-in schemas

Generated from `src/ferry/schema/builtin/*.xml` by `python -m ferry.schema.reference > docs/schemas.md`; do not
edit by hand. Attribute names are what Ingest / IngestExt records and REST bodies use (`@name` in `_key`).
"""


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_schema(schema: Schema) -> str:
    """One section: the schema's flags, keys, enumerations, then one table row per attribute."""
    flags = [flag for flag, on in (("staged (autoStg)", schema.staged), ("autopk", schema.autopk),
                                   ("autouuid", schema.autouuid)) if on]
    lines = [f"## {schema.id}", ""]
    if schema.label:
        lines += [_cell(schema.label), ""]
    lines.append(f"- table `{schema.sql_table}`" + (f"; {', '.join(flags)}" if flags else ""))
    if schema.staged:
        lines.append(f"- staging schema `{schema.staging_id}`")
    for key in schema.keys:
        lines.append(f"- key {key.name or '(unnamed)'}: " + ", ".join(f"`@{name}`" for name in key.fields)
                     + (" (internal)" if key.internal else ""))
    for enum in schema.enumerations:
        lines.append(f"- enumeration {enum.name} ({enum.basetype}): "
                     + ", ".join(f"{item.value} = {item.name} ({_cell(item.label)})" for item in enum.values))
    lines += ["", "| attribute | type | length | not null | default | label |", "|---|---|---|---|---|---|"]
    for attr in schema.attributes:
        lines.append(f"| `@{attr.name}` | {attr.type.value} | {attr.length or ''} | "
                     f"{'yes' if attr.not_null else ''} | {_cell(attr.default)} | {_cell(attr.label)} |")
    return "\n".join(lines) + "\n"


def render(schemas: Sequence[Schema]) -> str:
    """The whole document."""
    return HEADER + "".join("\n" + render_schema(schema) for schema in schemas)


if __name__ == "__main__":
    sys.stdout.write(render(builtin_schemas()))
