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


def _assignments(schema: Schema, names: Sequence[str], now: str) -> str:
    sets = [f"{quote(n)} = CASE WHEN g.{quote('__p_' + n)} THEN g.{quote(n)} ELSE t.{quote(n)} END"
            for n in names if n != ID_ATTRIBUTE]
    if LAST_MODIFIED in stamp_columns(schema):
        sets.append(f"{quote(LAST_MODIFIED)} = {now}")
    return ", ".join(sets)


def merge_sql(schema: Schema, table: str, key: Sequence[str], names: Sequence[str], groups: str, now: str) -> str:
    """One MERGE overlaying updates on the records that existed before the segment."""
    return (
        f"MERGE INTO {table} AS t USING {groups} AS g ON {_match('t', key)} "
        f"WHEN MATCHED AND g.__upd THEN UPDATE SET {_assignments(schema, names, now)}"
    )


def update_sql(schema: Schema, table: str, key: Sequence[str], names: Sequence[str], groups: str, now: str) -> str:
    """UPDATE … FROM, for engines without MERGE."""
    return (f"UPDATE {table} AS t SET {_assignments(schema, names, now)} FROM {groups} AS g "  # noqa: S608
            f"WHERE g.__upd AND {_match('t', key)}")


def insert_sql(schema: Schema, table: str, names: Sequence[str], news: str, now: str) -> str:
    """Insert the new records (full rows, defaults already applied)."""
    stamps = stamp_columns(schema)
    columns = ", ".join(quote(n) for n in (*names, *stamps))
    values = ", ".join([*(f"n.{quote(n)}" for n in names), *(now for _ in stamps)])
    return f"INSERT INTO {table} ({columns}) SELECT {values} FROM {news} AS n"  # noqa: S608
