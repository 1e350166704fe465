"""The set-based statements applying folded groups (table `g`) to a target table; DuckDB and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence

from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.warehouse.tables import LAST_MODIFIED, quote, stamp_columns


def _match(target: str, key: Sequence[str], source: str = "g") -> str:
    return " AND ".join(f"{target}.{quote(k)} = {source}.{quote('__k_' + k)}" for k in key)


def delete_sql(table: str, key: Sequence[str], groups: str) -> str:
    """Delete every record of the groups that delete (delete-then-insert inserts afterwards)."""
    return f"DELETE FROM {table} USING {groups} AS g WHERE g.__del AND {_match(table, key)}"  # noqa: S608


def _assignments(schema: Schema, key: Sequence[str], names: Sequence[str], now: str) -> str:
    # Not the key's columns: a matched record holds the group's key values already, and leaving an indexed column
    # out of the SET spares the engine comparing (DuckDB: rewriting) it.
    sets = [f"{quote(n)} = CASE WHEN g.{quote('__p_' + n)} THEN g.{quote(n)} ELSE t.{quote(n)} END"
            for n in names if n != ID_ATTRIBUTE and n not in key]
    if LAST_MODIFIED in stamp_columns(schema):
        sets.append(f"{quote(LAST_MODIFIED)} = {now}")
    # An update carrying nothing but its key still matches (its row counts as updated): SET needs one column.
    return ", ".join(sets or [f"{quote(key[0])} = t.{quote(key[0])}"])


def merge_sql(schema: Schema, table: str, key: Sequence[str], names: Sequence[str], groups: str, now: str, *,
              deletes: bool = False, updates: bool = True) -> str:
    """One MERGE deleting the records of the groups that delete and overlaying updates on the others (one pass over
    the table instead of a DELETE and a MERGE: a group either deletes or updates, never both)."""
    actions = []
    if deletes:
        actions.append("WHEN MATCHED AND g.__del THEN DELETE")
    if updates:
        actions.append(f"WHEN MATCHED AND g.__upd THEN UPDATE SET {_assignments(schema, key, names, now)}")
    return f"MERGE INTO {table} AS t USING {groups} AS g ON {_match('t', key)} {' '.join(actions)}"


def group_statements(schema: Schema, table: str, key: Sequence[str], names: Sequence[str], groups: str, now: str, *,
                     merge: bool, deletes: bool, updates: bool) -> list[str]:
    """The statements applying the groups before the new records are inserted: each pass over the table only when
    some group needs it (a pass costs a scan or a join of the whole table as it grows)."""
    if not (deletes or updates):
        return []
    if merge:
        return [merge_sql(schema, table, key, names, groups, now, deletes=deletes, updates=updates)]
    return ([delete_sql(table, key, groups)] if deletes else []) + (
        [update_sql(schema, table, key, names, groups, now)] if updates else [])


def update_sql(schema: Schema, table: str, key: Sequence[str], names: Sequence[str], groups: str, now: str) -> str:
    """UPDATE … FROM, for engines without MERGE."""
    return (f"UPDATE {table} AS t SET {_assignments(schema, key, names, now)} FROM {groups} AS g "  # noqa: S608
            f"WHERE g.__upd AND {_match('t', key)}")


def insert_sql(schema: Schema, table: str, names: Sequence[str], news: str, now: str) -> str:
    """Insert the new records (full rows, defaults already applied)."""
    stamps = stamp_columns(schema)
    columns = ", ".join(quote(n) for n in (*names, *stamps))
    values = ", ".join([*(f"n.{quote(n)}" for n in names), *(now for _ in stamps)])
    return f"INSERT INTO {table} ({columns}) SELECT {values} FROM {news} AS n"  # noqa: S608
