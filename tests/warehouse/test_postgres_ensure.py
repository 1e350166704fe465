"""`ensure_table` on PostgreSQL changes nothing, and locks nothing, when the table is already as the schema says."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from ferry.schema.loader import parse_schema
from ferry.schema.staging import with_internal_id
from ferry.warehouse import open_warehouse

SCHEMA = with_internal_id(parse_schema("""<srcSchema namespace="tst" name="lock" xtkschema="xtk:srcSchema">
  <element name="lock" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element>
</srcSchema>"""))


def test_an_unchanged_table_is_not_locked_against_its_readers(new_postgres_url: Callable[[], str]) -> None:
    url = new_postgres_url()
    warehouse = open_warehouse(url)
    try:
        warehouse.ensure_table(SCHEMA)
        with psycopg.connect(url) as reader:
            # A reader in an open transaction holds ACCESS SHARE on the table (a long query, a BI tool's cursor).
            reader.execute("SELECT count(*) FROM tst_lock").fetchone()
            done = threading.Event()
            failed: list[BaseException] = []

            def again() -> None:
                try:
                    warehouse.ensure_table(SCHEMA)  # what every sync run does first
                except BaseException as exc:
                    failed.append(exc)
                finally:
                    done.set()

            threading.Thread(target=again, daemon=True).start()
            # An ALTER TABLE, even one that adds nothing, would wait for the reader's lock to go.
            assert done.wait(10), "ensure_table waited for a reader of the table"
            assert not failed, failed
            reader.rollback()
        with psycopg.connect(url) as conn:
            indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tst_lock'")}
        assert indexes == {"tst_lock__id", "tst_lock__email"}
    finally:
        warehouse.close()
