"""The Campaign system schemas answered from staging: xtk:operator (no password hash; admins see all, others only
themselves) and xtk:enumValue (the values of the schemas' enumerations, `[enum/@name]` naming one)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from ferry import errors, system_views
from ferry.auth.models import Operator
from ferry.errors import FerryError
from ferry.query import compile_query, parse_query_def
from ferry.staging import StagingDatabase

ADMIN = Operator(1, "admin", True, frozenset(), False)


def run(staging_db: StagingDatabase, xml: str, operator: Operator) -> list[tuple[Any, ...]]:
    query = parse_query_def(etree.fromstring(xml))
    view = system_views.view(query.schema_id)
    assert view is not None
    with staging_db.pool.connection() as conn:
        compiled = compile_query(query, view.schema, view.table(conn, staging_db.registry, operator), "postgres")
        return conn.execute(compiled.sql, compiled.params).fetchall()


def test_operators_are_read_without_hashes_admins_all_others_themselves(staging_db: StagingDatabase) -> None:
    with staging_db.pool.connection() as conn:
        rows = conn.execute("INSERT INTO ferry.operators (login, password_hash, admin, schemas) VALUES "
                            "('boss', 'HASH-1', true, '{}'), ('app', 'HASH-2', false, '{nms:recipient}') "
                            "RETURNING id").fetchall()
    boss = Operator(rows[0][0], "boss", True, frozenset(), False)
    app = Operator(rows[1][0], "app", False, frozenset({"nms:recipient"}), False)
    every = '<queryDef schema="xtk:operator" operation="select"><orderBy><node expr="@name"/></orderBy></queryDef>'
    seen = run(staging_db, every, boss)
    assert [(row[1], row[5]) for row in seen] == [("app", "nms:recipient"), ("boss", "admin")]
    assert not any("HASH" in str(cell) for row in seen for cell in row)
    assert [row[1] for row in run(staging_db, every, app)] == ["app"]
    by_name = ('<queryDef schema="xtk:operator" operation="get"><select><node expr="@id"/></select>'
               "<where><condition expr=\"@name='boss'\"/></where></queryDef>")
    assert run(staging_db, by_name, app) == []
    assert run(staging_db, by_name, boss) == [(boss.id,)]


def test_enum_values_are_selected_by_enum_name(staging_db: StagingDatabase) -> None:
    rows = run(staging_db, '<queryDef schema="xtk:enumValue" operation="select"><select><node expr="@name"/>'
               '<node expr="@label"/><node expr="@value"/></select>'
               "<where><condition expr=\"[enum/@name]='gender'\"/></where>"
               '<orderBy><node expr="@order"/></orderBy></queryDef>', ADMIN)
    assert rows == [("unknown", "Not specified", "0"), ("male", "Male", "1"), ("female", "Female", "2")]


def test_element_paths_stay_refused_elsewhere() -> None:
    with pytest.raises(FerryError) as caught:
        parse_query_def(etree.fromstring('<queryDef schema="nms:recipient"><where>'
                                         "<condition expr=\"[enum/@name]='gender'\"/></where></queryDef>"))
    assert caught.value.code is errors.EXPRESSION_SYNTAX
