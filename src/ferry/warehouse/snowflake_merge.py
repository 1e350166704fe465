"""The one Snowflake MERGE that applies a folded segment: its deletes, overlays and new records together.

The source table holds the segment's groups (one row per key value whose records are deleted or updated,
matched on `__k_<key>`) followed by its new records (`__new`, never matched). A MERGE judges every source row
against the table as it was before the statement, which is the state the fold computed the groups against, so
a key deleted and created again within the segment loses its old record and gains the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.warehouse.tables import LAST_MODIFIED, quote, stamp_columns

DELETE_FLAG = "__del"
UPDATE_FLAG = "__upd"
NEW_FLAG = "__new"


def merge_sql(schema: Schema, table: str, key: Sequence[str], source: str, *, updated: Sequence[str],
              inserted: Sequence[str], now: str) -> str:
    """`MERGE INTO table USING source`: `updated` are the attributes the overlays carry, `inserted` the columns
    of the new records (empty: no new record in this segment)."""
    match = " AND ".join(f"t.{quote(k)} = s.{quote('__k_' + k)}" for k in key)
    clauses = [f"WHEN MATCHED AND s.{DELETE_FLAG} THEN DELETE"]
    sets = [f"{quote(n)} = CASE WHEN s.{quote('__p_' + n)} THEN s.{quote(n)} ELSE t.{quote(n)} END"
            for n in updated if n != ID_ATTRIBUTE]
    if LAST_MODIFIED in stamp_columns(schema):
        sets.append(f"{quote(LAST_MODIFIED)} = {now}")
    if sets:
        clauses.append(f"WHEN MATCHED AND s.{UPDATE_FLAG} THEN UPDATE SET {', '.join(sets)}")
    if inserted:
        stamps = stamp_columns(schema)
        columns = ", ".join(quote(n) for n in (*inserted, *stamps))
        values = ", ".join([*(f"s.{quote(n)}" for n in inserted), *(now for _ in stamps)])
        clauses.append(f"WHEN NOT MATCHED AND s.{NEW_FLAG} THEN INSERT ({columns}) VALUES ({values})")  # noqa: S608
    return (f"MERGE INTO {table} AS t USING {source} AS s ON NOT s.{NEW_FLAG} AND {match} "
            + " ".join(clauses))
