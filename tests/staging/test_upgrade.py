"""A staging database of the old layout (per-row `_state`, migrations 0001-0060) becomes the log on start."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pyarrow.compute as pc

from ferry.config import Settings
from ferry.schema.loader import parse_schema
from ferry.schema.staging import with_internal_id
from ferry.staging import StagingDatabase
from ferry.staging.migrations import _migrations
from ferry.sync import batches, run_once
from ferry.warehouse import open_warehouse

ITEM = """<srcSchema namespace="tst" name="item" xtkschema="xtk:srcSchema">
  <element name="item" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
    <attribute name="a" type="string" length="16"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element>
</srcSchema>"""

# The staging table as ferry made it before the log (ddl.create_table at 02b1502), for this schema.
OLD_TABLE = """CREATE TABLE ferry_stg.tst_item (
    _seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, _uuid uuid NOT NULL UNIQUE, _request_id uuid NOT NULL,
    _op text NOT NULL CHECK (_op IN ('insert', 'insertOrUpdate', 'update', 'delete')), _key text[],
    _present text[] NOT NULL, _received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    _state text NOT NULL DEFAULT 'staged' CHECK (_state IN ('staged', 'synced', 'skipped', 'failed')),
    _reason text, _batch_id uuid, _done_at timestamptz, id varchar(36), email varchar(64), a varchar(16)
) WITH (fillfactor = 50);
CREATE INDEX tst_item_pending ON ferry_stg.tst_item (_seq) WHERE _state = 'staged';
CREATE INDEX tst_item_request ON ferry_stg.tst_item (_request_id);
CREATE INDEX tst_item_done ON ferry_stg.tst_item (_done_at) WHERE _state IN ('synced', 'skipped');"""

# (name, op, email, a): in `_seq` order 1..8.
ROWS = [("r1", "insertOrUpdate", "e1", "a1"), ("r2", "insert", "e1", "a2"), ("r3", "insertOrUpdate", "e3", "a3"),
        ("r4", "insertOrUpdate", "e4", "a4"), ("r5", "insertOrUpdate", "e5", "a5"),
        ("r6", "insertOrUpdate", "e6", "a6"), ("r7", "update", "e1", "b7"), ("r8", "update", "e5", "b8")]


def _old_layout(url: str) -> dict[str, uuid.UUID]:
    """Migrations 0001-0060 and the old table, with rows as the old sync left them; returns name → UUID."""
    uuids = {name: uuid.uuid4() for name, *_ in ROWS}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ferry")
        conn.execute("CREATE TABLE ferry.migrations (version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        for version, name, text in _migrations():
            if version <= 60:
                conn.execute(text.encode())
                conn.execute("INSERT INTO ferry.migrations VALUES (%s, %s)", (version, name))
        conn.execute("INSERT INTO ferry.schemas (id, source_xml, staged, stg_table) VALUES ('tst:item', %s, true, "
                     "'tst_item')", (ITEM,))
        conn.execute(OLD_TABLE.encode())
        request = uuid.uuid4()
        conn.execute("INSERT INTO ferry.requests (id, schema_id, method, origin, record_count) "
                     "VALUES (%s, 'tst:item', 'IngestExt', 'test', 8)", (request,))
        for name, op, email, a in ROWS:
            conn.execute("INSERT INTO ferry_stg.tst_item (_uuid, _request_id, _op, _key, _present, email, a) "
                         "VALUES (%s, %s, %s, '{email}', '{email,a}', %s, %s)", (uuids[name], request, op, email, a))
    return uuids


def _states(db: StagingDatabase) -> dict[str, tuple[str, str | None]]:
    with db.pool.connection() as conn:
        found = {str(u): (str(s), r) for u, s, r in conn.execute("SELECT _uuid, _state, _reason "
                                                                  "FROM ferry.rows_tst_item")}
    return found


def test_an_old_layout_database_is_upgraded_keeping_every_row_and_state(new_database: object,
                                                                         tmp_path: Path) -> None:
    url = new_database()  # type: ignore[operator]
    uuids = _old_layout(url)
    names = {str(u): n for n, u in uuids.items()}
    schema = with_internal_id(parse_schema(ITEM))
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        warehouse.ensure_table(schema)
        # What the old sync did: batch A (r1, r2) and C (r5) applied and marked, r3 failed, batch B (r6, r7) applied
        # in the warehouse but never marked (its worker died), r4 (committed late, below r5) and r8 still staged.
        reader = batches.BatchReader(url)
        try:
            batch = reader.read(schema, 0, 8, 100, 1 << 30)
        finally:
            reader.close()
        assert batch is not None
        rows = batch.rows

        def part(*which: str) -> object:
            return rows.filter(pc.is_in(rows.column("_uuid"), value_set=pc.cast([str(uuids[w]) for w in which],
                                                                               rows.column("_uuid").type)))

        old = {"A": uuid.uuid4(), "B": uuid.uuid4(), "C": uuid.uuid4()}
        for label, which in (("A", ("r1", "r2")), ("C", ("r5",)), ("B", ("r6", "r7"))):
            warehouse.apply_batch(schema, str(old[label]), part(*which))  # type: ignore[arg-type]
        with psycopg.connect(url, autocommit=True) as conn:
            for name, state, reason, label in (("r1", "synced", None, "A"), ("r2", "skipped", "key exists", "A"),
                                               ("r3", "failed", "value rejected", "A"), ("r5", "synced", None, "C")):
                conn.execute("UPDATE ferry_stg.tst_item SET _state = %s, _reason = %s, _batch_id = %s, "
                             "_done_at = now() WHERE _uuid = %s", (state, reason, old[label], uuids[name]))
            conn.execute("UPDATE ferry_stg.tst_item SET _batch_id = %s WHERE _uuid IN (%s, %s)",
                         (old["B"], uuids["r6"], uuids["r7"]))
            conn.execute("INSERT INTO ferry.sync_batches (batch_id, schema_id, first_seq, row_count, last_seq) "
                         "VALUES (%s, 'tst:item', 6, 2, 7)", (old["B"],))

        settings = Settings.from_env(database_url=url, data_dir=tmp_path / "data")
        with StagingDatabase.open(settings) as db:
            before = {names[u]: s for u, s in _states(db).items()}
            assert before == {"r1": ("synced", None), "r2": ("skipped", "key exists"),
                              "r3": ("failed", "value rejected"), "r4": ("staged", None), "r5": ("synced", None),
                              "r6": ("staged", None), "r7": ("staged", None), "r8": ("staged", None)}
            [status] = [s for s in db.store.status() if s.schema_id == "tst:item"]
            assert status.counts == {"staged": 4, "synced": 2, "skipped": 1, "failed": 1}
            with db.pool.connection() as conn:
                order = [names[str(u)] for (u,) in conn.execute("SELECT _uuid FROM ferry_stg.tst_item ORDER BY _seq")]
                columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                                      "WHERE table_schema = 'ferry_stg' AND table_name = 'tst_item'")}
            # Done rows keep their place; staged ones follow in the old sync's order: the claimed batch first.
            assert order == ["r1", "r2", "r3", "r5", "r6", "r7", "r4", "r8"]
            assert not {"_state", "_reason", "_batch_id", "_done_at"} & columns
            result = run_once(db, warehouse, "tst:item", settings, retries=0)
            assert result.state == "succeeded", result.error
            after = {names[u]: s for u, s in _states(db).items()}
            assert after == {**before, **{n: ("synced", None) for n in ("r4", "r6", "r7", "r8")}}
            got = sorted((r["email"], r["a"]) for r in warehouse.read(schema))
            # B was applied once (from the ledger, not again), then r4 and r8 in their order.
            assert got == [("e1", "b7"), ("e4", "a4"), ("e5", "b8"), ("e6", "a6")]
            assert result.counts["read"] == 4 and result.batches == 2
    finally:
        warehouse.close()


def test_an_unapplied_claimed_batch_is_simply_staged(new_database: object, tmp_path: Path) -> None:
    url = new_database()  # type: ignore[operator]
    uuids = _old_layout(url)
    with psycopg.connect(url, autocommit=True) as conn:
        batch = uuid.uuid4()
        conn.execute("UPDATE ferry_stg.tst_item SET _batch_id = %s WHERE _uuid = %s", (batch, uuids["r1"]))
        conn.execute("INSERT INTO ferry.sync_batches (batch_id, schema_id, first_seq, row_count, last_seq) "
                     "VALUES (%s, 'tst:item', 1, 1, 1)", (batch,))
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    settings = Settings.from_env(database_url=url, data_dir=tmp_path / "data")
    try:
        with StagingDatabase.open(settings) as db:
            result = run_once(db, warehouse, "tst:item", settings, retries=0)
            assert result.state == "succeeded" and result.counts["read"] == 8, result.error
            assert {s for s, _r in _states(db).values()} == {"synced", "skipped"}
    finally:
        warehouse.close()
