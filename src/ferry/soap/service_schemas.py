"""The descriptions of the services ferry implements besides xtk:session, by schema id (filled at start).

Kept apart from `schemas` (which reads them) and `catalog` (which adds some) so neither imports the other's caller.
"""

from __future__ import annotations

# Descriptions other modules serve (e.g. `xtk:queryDef` with its ExecuteQuery method), by schema id.
_EXTRA: dict[str, str] = {}


def register(schema_id: str, xml: str) -> None:
    """Serve `xml` for `xtk:schema|<schema_id>`; its root needs matching `namespace` and `name` attributes."""
    _EXTRA[schema_id] = xml


def registered(schema_id: str) -> str | None:
    """The description registered for `schema_id`, or None."""
    return _EXTRA.get(schema_id)
