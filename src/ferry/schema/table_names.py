"""The table a schema owns (in staging and in the warehouse), and the rule that no two schemas share one.

`ns:name` → `ns_name`, lower case: kept as it was so existing tables keep their names. That derivation alone is not
injective (`cs:b_c` and `cs_b:c`, or `DEM:x` and `dem:x`, land on one table), so a schema is applied only when no
other schema already has its table; names ferry derives from a table (`__seq`, `__p<n>`, `__default`) and
PostgreSQL's 63-byte identifiers are kept apart by refusing new tables whose name holds `__` or passes 40 characters.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferry import errors
from ferry.errors import FerryError

# The longest table name a new schema may have: its longest derived name (`<table>__p<19 digits>`) stays within
# PostgreSQL's 63 bytes, where a longer one would be cut and could meet another table's.
MAX_NEW_TABLE_NAME = 40


def table_name(schema_id: str) -> str:
    """`nms:recipient` → `nms_recipient`: the staging table (schema `ferry_stg`) and the warehouse table."""
    return schema_id.replace(":", "_", 1).lower()


def check_new_table(schema_id: str, stored_ids: Iterable[str]) -> None:
    """Refuse `schema_id` when its table is another stored schema's (naming both), or, for a schema not stored yet,
    when its table name could meet a name ferry derives from another table."""
    stored = set(stored_ids)
    table = table_name(schema_id)
    owners = sorted(other for other in stored if other != schema_id and table_name(other) == table)
    if owners:
        raise FerryError(errors.TABLE_NAME_TAKEN, f"{schema_id} would use table {table!r}, which belongs to "
                         f"{', '.join(owners)}; rename one of the schemas (table names ignore case and read "
                         "':' as '_')")
    if schema_id in stored:
        return  # an existing table keeps its name
    if "__" in table:
        raise FerryError(errors.TABLE_NAME_TAKEN, f"{schema_id}: its table name {table!r} holds '__', which ferry "
                         "keeps for the names it derives from a table (sequences, partitions)")
    if len(table) > MAX_NEW_TABLE_NAME:
        raise FerryError(errors.TABLE_NAME_TAKEN, f"{schema_id}: its table name {table!r} is {len(table)} characters "
                         f"long; at most {MAX_NEW_TABLE_NAME}, so every name ferry derives from it fits PostgreSQL's "
                         "63")


def shared_tables(schema_ids: Iterable[str]) -> dict[str, list[str]]:
    """Tables claimed by more than one schema (an installation from before the rule): table → schema ids."""
    by_table: dict[str, list[str]] = {}
    for schema_id in sorted(schema_ids):
        by_table.setdefault(table_name(schema_id), []).append(schema_id)
    return {table: ids for table, ids in sorted(by_table.items()) if len(ids) > 1}
