"""Folding a segment of staged operations into one set-based change per key.

A *segment* is a run of consecutive staged rows sharing one reconciliation key K. Inside a segment a row
only touches the records whose K values equal its own, and never changes those values, so every key value
is independent: per key we compute (in Arrow over the rows sorted by key, or with window functions in DuckDB for
keys of several columns) whether a record exists before each row
(`exists` = E0 from the warehouse, then `delete` → no, `insert`/`insertOrUpdate` → yes, `update` → unchanged),
hence each row's outcome, and the net effect:

- `__del`: some row deletes → every original record with that key goes;
- `__upd`: no delete, records existed, rows update them → one overlay (per attribute: the last value present);
- news: each row after the last delete that creates a record → its values and defaults, then the later updates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ferry.schema.model import ID_ATTRIBUTE, Attribute, Schema
from ferry.warehouse.tables import DUCKDB_TYPES, default_literal, quote

# Per-row outcome codes, as the fold writes them.
INSERTED = "inserted"
UPDATED = "updated"
DELETED = "deleted"
SKIPPED_EXISTS = "skipped_exists"
SKIPPED_MISSING = "skipped_missing"
REASONS = {SKIPPED_EXISTS: "key exists", SKIPPED_MISSING: "no record with this key"}

_local = threading.local()


def _engine() -> duckdb.DuckDBPyConnection:
    # One private in-memory DuckDB per thread: folding never touches the warehouse connection.
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        con.execute("SET threads TO 1")
        _local.con = con
    return con


def segments(batch: pa.Table) -> list[tuple[tuple[str, ...], pa.Table]]:
    """Split a batch (in `_seq` order) into runs of rows sharing one key spec.

    A *free* insert (no `_key`, its `id` the fresh staged UUID) can match no record and be matched only by rows
    after it with its values, so it joins whatever run it falls in (the fold treats it as an insert that always
    creates a record in its key group); only a run made of free inserts alone is keyed on `id`.
    """
    if batch.num_rows == 0:
        return []
    free = free_inserts(batch).combine_chunks()
    keyed = pc.binary_join(batch.column("_key"), ",").combine_chunks()
    # Keyless rows that are not free are keyed on id; free ones take the spec of the run around them.
    spec = pc.if_else(free, pa.scalar(None, pa.string()), pc.fill_null(keyed, ID_ATTRIBUTE))
    spec = pc.fill_null(pc.fill_null_backward(pc.fill_null_forward(spec)), ID_ATTRIBUTE)
    changed = pc.not_equal(spec.slice(1), spec.slice(0, len(spec) - 1))
    bounds = [int(i) + 1 for i in pc.indices_nonzero(changed).to_pylist()]
    starts = [0, *bounds]
    ends = [*bounds, batch.num_rows]
    return [(tuple(str(spec[start].as_py()).split(",")), batch.slice(start, end - start))
            for start, end in zip(starts, ends, strict=True)]


def free_inserts(batch: pa.Table) -> pa.ChunkedArray:
    """Rows inserting without `_key` a record whose id is the row's own staged UUID (no record can hold it)."""
    return pc.and_(pc.and_(pc.is_null(batch.column("_key")), pc.equal(batch.column("_op"), "insert")),
                   pc.fill_null(pc.equal(batch.column(ID_ATTRIBUTE), batch.column("_uuid")), False))


def all_free(segment: pa.Table, free: pa.ChunkedArray | None = None) -> bool:
    """True when every row of the segment is a free insert (it creates its record, nothing else touches it);
    `free`: its `free_inserts`, when already computed."""
    if segment.num_rows == 0:
        return False
    return bool(pc.all(free_inserts(segment) if free is None else free).as_py())


def distinct_keys(segment: pa.Table, key: Sequence[str]) -> pa.Table:
    """The distinct key values of a segment (to ask the warehouse which exist)."""
    return segment.select(list(key)).group_by(list(key)).aggregate([])


def fold(schema: Schema, key: Sequence[str], segment: pa.Table,
         existing: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(groups, news, outcomes) of one segment keyed on `key`.

    groups: per key value, `__del` (delete the records holding it) and `__upd` with the overlay (value and
    `__p_` flag per attribute) for the records that existed before the batch; news: one full record per row that
    creates one, with the later updates of its key group applied; outcomes: each row's `_seq` and outcome code.
    """
    names = [attr.name for attr in schema.attributes if attr.name in segment.column_names]
    if all_free(segment):
        return _fold_free(schema, key, names, segment)
    # The private DuckDB is opened only for what Arrow compute does not do (~25 ms the first time in a process).
    if keys_unique(key, segment):
        return _fold_unique(schema, key, names, segment, existing)
    return _fold_runs(schema, key, names, segment, existing)


def keys_unique(key: Sequence[str], segment: pa.Table) -> bool:
    """True when no two rows of the segment share a key value (NULLs count as one value, as in the fold)."""
    if len(key) == 1:
        return bool(int(pc.count_distinct(segment.column(key[0]), mode="all").as_py()) == segment.num_rows)
    con = _engine()
    con.register("seg", segment)
    try:
        rows = con.sql(f"SELECT count(*) FROM (SELECT 1 FROM seg GROUP BY {', '.join(quote(k) for k in key)} "  # noqa: S608
                       "HAVING count(*) > 1)").fetchall()
    finally:
        con.unregister("seg")
    return int(rows[0][0]) == 0


def _outcome_case(before: str) -> str:
    # A row's outcome from its op and whether a record with its key exists just before it.
    return f"""CASE WHEN __free THEN '{INSERTED}' ELSE CASE _op
                    WHEN 'insert' THEN CASE WHEN {before} THEN '{SKIPPED_EXISTS}' ELSE '{INSERTED}' END
                    WHEN 'insertOrUpdate' THEN CASE WHEN {before} THEN '{UPDATED}' ELSE '{INSERTED}' END
                    WHEN 'update' THEN CASE WHEN {before} THEN '{UPDATED}' ELSE '{SKIPPED_MISSING}' END
                    ELSE CASE WHEN {before} THEN '{DELETED}' ELSE '{SKIPPED_MISSING}' END
                END END"""


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, segment: pa.Table, existing: pa.Table) -> Iterator[pa.Table]:
    """`seg` (the segment with its `__free` flags) and `ex` (the existing keys, `__hit`) registered for the fold's
    queries, and its temporary table `z` dropped afterwards; yields the flagged segment."""
    flagged = segment.append_column("__free", free_inserts(segment))
    con.register("seg", flagged)
    con.register("ex", existing.append_column("__hit", pa.repeat(pa.scalar(True), existing.num_rows)))
    try:
        yield flagged
    finally:
        con.unregister("seg")
        con.unregister("ex")
        con.execute("DROP TABLE IF EXISTS z")


def _overlay_columns(key: Sequence[str], names: list[str], *, grouped: bool) -> list[str]:
    # The groups' columns: the key values, then per attribute the overlay value and its `__p_` flag (the last
    # updating row's value across a group when `grouped`, else the one row's).
    columns = [f"{quote(k)} AS {quote('__k_' + k)}" for k in key]
    for name in names:
        if name == ID_ATTRIBUTE:
            continue
        cond = f"__outcome = '{UPDATED}' AND list_contains(_present, '{name}')"
        if grouped:
            columns.append(f"arg_max_null({quote(name)}, CASE WHEN {cond} THEN _seq END) AS {quote(name)}")
            columns.append(f"coalesce(bool_or({cond}), false) AS {quote('__p_' + name)}")
        else:
            columns.append(f"CASE WHEN {cond} THEN {quote(name)} END AS {quote(name)}")
            columns.append(f"coalesce({cond}, false) AS {quote('__p_' + name)}")
    return columns


def _fold_unique(schema: Schema, key: Sequence[str], names: list[str], segment: pa.Table,
                 existing: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    # What `_fold_unique_sql` computes, in Arrow compute for a one-column key: no query to plan and run (~4 DuckDB
    # statements, most of a small batch's fold: continuous mode applies many small batches).
    if len(key) != 1:
        return _fold_unique_sql(_engine(), schema, key, names, segment, existing)
    column = segment.column(key[0])
    before = _held(column, existing, key[0])
    if before is None:
        return _fold_unique_sql(_engine(), schema, key, names, segment, existing)
    op = segment.column("_op")
    code = _outcome_codes(op, before, free_inserts(segment))
    outcomes = pa.table({"_seq": segment.column("_seq"), "outcome": pc.take(_CODE_TEXT, code)})

    updated = pc.is_in(code, value_set=_codes(UPDATED))
    deleting = pc.equal(op, "delete")
    creating = pc.and_(pc.is_in(code, value_set=_codes(INSERTED)), pc.invert(deleting))
    present = _presence(segment.column("_present"), names)
    picked = pc.or_(deleting, updated)
    groups = _overlays(segment.filter(picked), key[0], names,
                       {name: flags.filter(picked) for name, flags in present.items()},
                       deleting.filter(picked), updated.filter(picked))
    news = _new_records(schema, names, segment.filter(creating),
                        {name: flags.filter(creating) for name, flags in present.items()}, issued=True)
    return groups, news, outcomes


# Outcome codes of `_fold_unique`: each op's outcome without a record before (at its base), then with one.
_CODES = (SKIPPED_MISSING, DELETED, INSERTED, SKIPPED_EXISTS, INSERTED, UPDATED, SKIPPED_MISSING, UPDATED)
_CODE_TEXT = pa.array(_CODES, pa.string())
_OP_BASES = {"insert": 2, "insertOrUpdate": 4, "update": 6}  # a delete (and any other op): 0


def _codes(outcome: str) -> pa.Array:
    return pa.array([i for i, text in enumerate(_CODES) if text == outcome], pa.int8())


def _outcome_codes(op: Any, before: Any, free: Any) -> Any:
    """Each row's outcome as an index into _CODES (turned into text once, at the end), from its op and whether a
    record with its key exists just before it."""
    code = pa.repeat(pa.scalar(0, pa.int8()), len(op))  # a delete (and any other op)
    for name, base in _OP_BASES.items():
        code = pc.if_else(pc.equal(op, name), pa.scalar(base, pa.int8()), code)
    code = pc.add(code, pc.cast(before, pa.int8()))
    return pc.if_else(free, pa.scalar(_OP_BASES["insert"], pa.int8()), code)


def _run_last(values: Any, starts: Any, ends: Any) -> Any:
    """Per run of rows (`starts` and `ends` flag each run's first and last row), the last non-null of `values`, or
    NULL; `values` only grow along a run (positions, `_seq`)."""
    seeded = pc.if_else(pc.and_(starts, pc.is_null(values)), pa.scalar(-1, pa.int64()), values)
    last = pc.fill_null_forward(seeded).filter(ends)
    return pc.if_else(pc.less(last, 0), pa.scalar(None, pa.int64()), last)


def _held(column: Any, existing: pa.Table, name: str) -> Any:
    """Whether a record holds each row's key value before the segment (a NULL key matches none, as in the
    warehouse's join); None when the existing keys do not cast to the column's type."""
    try:
        known = existing.column(name).cast(column.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if len(known) == 0:
        return pa.repeat(pa.scalar(False), len(column))
    return pc.fill_null(pc.is_in(column, value_set=known.combine_chunks(), skip_nulls=True), False)


def _fold_runs(schema: Schema, key: Sequence[str], names: list[str], segment: pa.Table,
               existing: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    # What `_fold_keyed` computes, in Arrow compute for a one-column key (its windows, aggregates and self-join
    # cost most of a batch where calls touch a key more than once): the rows sorted by (key, `_seq`), so each key
    # value's rows are a run of that order; a run's facts are forward fills read at its last row.
    if len(key) != 1:
        return _fold_keyed(_engine(), schema, key, names, segment, existing)
    order = pc.sort_indices(segment, sort_keys=[(key[0], "ascending"), ("_seq", "ascending")])  # NULLs: at the end
    # Only the columns used from here on: the lists (`_key`, `_present`) cost most of a take.
    kept_columns = list(dict.fromkeys([key[0], "_seq", "_op", "_uuid", *names]))
    rows = segment.select(kept_columns).take(order).combine_chunks()
    column = rows.column(key[0])
    e0 = _held(column, existing, key[0])
    if e0 is None:
        return _fold_keyed(_engine(), schema, key, names, segment, existing)
    n = rows.num_rows
    cur, prev = column.slice(1), column.slice(0, n - 1)
    same = pc.or_kleene(pc.equal(cur, prev), pc.and_(pc.is_null(cur), pc.is_null(prev)))  # NULLs: one run
    starts = pa.concat_arrays([pa.array([True]), pc.invert(pc.fill_null(same, False)).combine_chunks()])
    ends = pa.concat_arrays([starts.slice(1), pa.array([True])])
    run = pc.subtract(pc.cumulative_sum(pc.cast(starts, pa.int64())), 1)
    seq = rows.column("_seq")
    op = rows.column("_op")
    deleting = pc.equal(op, "delete")
    # Whether a record exists just before each row: the warehouse's state at a run's start, then after each row
    # other than an update (a delete removes it, anything else leaves one), carried over updates.
    after = pc.if_else(pc.equal(op, "update"), pa.scalar(None, pa.bool_()), pc.invert(deleting))
    shifted = pc.if_else(starts, e0, pa.concat_arrays([pa.array([None], pa.bool_()),
                                                       after.slice(0, n - 1).combine_chunks()]))
    before = pc.fill_null_forward(shifted)
    code = _outcome_codes(op, before, free_inserts(segment).take(order))
    outcomes = pa.table({"_seq": seq, "outcome": pc.take(_CODE_TEXT, code)}).sort_by("_seq")

    updated = pc.is_in(code, value_set=_codes(UPDATED))
    present = _presence(segment.column("_present"), names, order)
    position = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n)), 1)
    last_del = _run_last(pc.if_else(deleting, seq, pa.scalar(None, seq.type)), starts, ends)
    overlaid = [name for name in names if name != ID_ATTRIBUTE]
    # Per attribute, the last row of each run updating it: the overlay's value and, for a new record, the update
    # after its creating row that wins.
    last_set = {name: _run_last(pc.if_else(pc.and_(updated, present[name]), position, pa.scalar(None, pa.int64())),
                                starts, ends) for name in overlaid}
    kept = pc.or_(pc.is_valid(last_del), pc.and_(pc.is_valid(_run_last(pc.if_else(
        updated, position, pa.scalar(None, pa.int64())), starts, ends)), e0.filter(starts)))
    group_columns: dict[str, Any] = {"__k_" + key[0]: column.filter(starts)}
    for name in overlaid:
        last = last_set[name]
        group_columns[name] = rows.column(name).take(last)
        group_columns["__p_" + name] = pc.is_valid(last)
    group_columns["__del"] = pc.is_valid(last_del)
    group_columns["__upd"] = pc.and_(kept, pc.invert(pc.is_valid(last_del)))
    groups = pa.table(group_columns).filter(kept)

    # New records: each row after its run's last delete that creates one, its values overlaid by the last later
    # update of each attribute in the run.
    tail = pc.greater(seq, pc.fill_null(pc.take(last_del, run), -1))
    creating = pc.and_(tail, pc.is_in(code, value_set=_codes(INSERTED)))
    at = position.filter(creating)
    runs_of = run.filter(creating)
    values: dict[str, Any] = {"_seq": seq.filter(creating), "_uuid": rows.column("_uuid").filter(creating)}
    found: dict[str, Any] = {}
    for name in names:
        own = pc.if_else(present[name].filter(creating), at, pa.scalar(None, pa.int64()))
        if name != ID_ATTRIBUTE:
            later = pc.take(last_set[name], runs_of)
            own = pc.if_else(pc.fill_null(pc.greater(later, at), False), later, own)
        values[name] = rows.column(name).take(own)
        found[name] = pc.is_valid(own)
    made = pa.table(values)
    news = _new_records(schema, names, made, found, issued=True)
    news = news.take(pc.sort_indices(made.column("_seq")))
    return groups, news, outcomes


def _overlays(picked: pa.Table, key: str, names: list[str], present: dict[str, Any], deleting: Any,
              updated: Any) -> pa.Table:
    """The groups of the rows that delete or update (one row per key value): per attribute the updating row's value
    and its `__p_` flag."""
    columns: dict[str, Any] = {"__k_" + key: picked.column(key)}
    for name in names:
        if name == ID_ATTRIBUTE:
            continue
        condition = pc.and_(updated, present[name])
        columns[name] = pc.if_else(condition, picked.column(name), pa.scalar(None, picked.schema.field(name).type))
        columns["__p_" + name] = condition
    columns["__del"] = deleting
    columns["__upd"] = updated
    return pa.table(columns)


def _new_records(schema: Schema, names: list[str], rows: pa.Table, present: dict[str, Any], *,
                 issued: bool) -> pa.Table:
    """One full record per row: each attribute's value when present, else its literal default (or NULL); the
    literal defaults of the attributes the batch does not carry. Its id: the row's own, or (`issued`, when absent)
    the staged UUID an insertOrUpdate creates the record with."""
    columns: dict[str, Any] = {}
    for name in names:
        kind = rows.schema.field(name).type
        if name == ID_ATTRIBUTE:
            columns[name] = (pc.if_else(present[name], rows.column(name), rows.column("_uuid").cast(kind))
                             if issued else rows.column(name))
            continue
        attr = schema.attribute(name)
        assert attr is not None
        default = default_literal(attr)
        if default is None:
            columns[name] = pc.if_else(present[name], rows.column(name), pa.scalar(None, kind))
        else:
            wide = _widened(kind)  # the SQL fold's CAST(? AS BIGINT/DOUBLE) widens the column the same way
            columns[name] = pc.if_else(present[name], rows.column(name).cast(wide), pa.scalar(default).cast(wide))
    for name, value in _absent_default_values(schema, rows):
        columns[name] = pa.repeat(pa.scalar(value), rows.num_rows)
    return pa.table(columns)


def _presence(present: pa.ChunkedArray, names: Sequence[str], order: Any = None) -> dict[str, pa.Array]:
    """Per attribute, whether each row's `_present` holds it (rows taken in `order` if given): decided once per
    distinct list (a call's rows repeat one), then spread by the rows' indices."""
    joined = pc.binary_join(present, "\x1f").combine_chunks()
    encoded = joined.dictionary_encode()
    lists = [set(str(text).split("\x1f")) if text else set() for text in encoded.dictionary.to_pylist()]
    indices = encoded.indices if order is None else pc.take(encoded.indices, order)
    return {name: pc.take(pa.array([name in found for found in lists], pa.bool_()), indices) for name in names}


def _widened(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(kind):
        return pa.int64()
    if pa.types.is_floating(kind):
        return pa.float64()
    return kind


def _fold_unique_sql(con: duckdb.DuckDBPyConnection, schema: Schema, key: Sequence[str], names: list[str],
                     segment: pa.Table, existing: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    # Each key value has one row: what exists before it is the warehouse's state, its group is itself, and no later
    # row updates what it creates. The same result as `_fold_keyed` without its windows, aggregates and self-join
    # (the usual batch: distinct records upserted), which cost most of a keyed fold.
    on = " AND ".join(f"s.{quote(k)} = e.{quote(k)}" for k in key)
    with _registered(con, segment, existing) as segment:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE z AS
            SELECT *, {_outcome_case("__e0")} AS __outcome
            FROM (SELECT s.*, coalesce(e.__hit, false) AS __e0 FROM seg s LEFT JOIN ex e ON {on})
        """)  # noqa: S608 - identifiers are quoted schema attribute names
        outcomes = con.sql("SELECT _seq, __outcome AS outcome FROM z ORDER BY _seq").to_arrow_table()
        columns = _overlay_columns(key, names, grouped=False)
        groups = con.sql(f"""
            SELECT {", ".join(columns)}, _op = 'delete' AS __del, __outcome = '{UPDATED}' AS __upd
            FROM z WHERE _op = 'delete' OR __outcome = '{UPDATED}'
        """).to_arrow_table()  # noqa: S608
        # A new record's id: the row's, else (insertOrUpdate) its staged UUID.
        values, params = _record_values(schema, names, segment,
                                        f"CASE WHEN list_contains(_present, 'id') THEN {quote(ID_ATTRIBUTE)} "
                                        "ELSE _uuid END")
        news = con.sql(f"SELECT {', '.join(values)} FROM z WHERE __outcome = '{INSERTED}' AND _op <> 'delete' "  # noqa: S608
                       "ORDER BY _seq", params=params).to_arrow_table()
    return groups, news, outcomes


def _fold_keyed(con: duckdb.DuckDBPyConnection, schema: Schema, key: Sequence[str], names: list[str],
                segment: pa.Table, existing: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    # The general case: per key value, windows over the rows in `_seq` order (see the module's docstring).
    on = " AND ".join(f"s.{quote(k)} = e.{quote(k)}" for k in key)
    part = ", ".join(f"s.{quote(k)}" for k in key)
    same = " AND ".join(f"ov.{quote(k)} IS NOT DISTINCT FROM c.{quote(k)}" for k in key)
    with _registered(con, segment, existing) as segment:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE z AS
            WITH x AS (
                SELECT s.*, coalesce(e.__hit, false) AS __e0,
                    max(CASE WHEN s._op = 'delete' THEN s._seq END) OVER (PARTITION BY {part}) AS __last_del,
                    last_value(CASE WHEN s._op <> 'update' THEN s._op END IGNORE NULLS) OVER (
                        PARTITION BY {part} ORDER BY s._seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    ) AS __prev
                FROM seg s LEFT JOIN ex e ON {on}
            ), y AS (
                SELECT *, CASE WHEN __prev IS NULL THEN __e0 ELSE __prev <> 'delete' END AS __before FROM x
            )
            SELECT *, {_outcome_case("__before")} AS __outcome,
                _seq > coalesce(__last_del, -1) AS __tail
            FROM y
        """)  # noqa: S608 - identifiers are quoted schema attribute names
        outcomes = con.sql("SELECT _seq, __outcome AS outcome FROM z ORDER BY _seq").to_arrow_table()

        # Records that existed before the segment: deleted, or updated by the overlay of every updating row.
        columns = _overlay_columns(key, names, grouped=True)
        groups = con.sql(f"""
            SELECT {", ".join(columns)},
                bool_or(__last_del IS NOT NULL) AS __del,
                bool_or(__outcome = '{UPDATED}') AND bool_or(__e0) AND NOT bool_or(__last_del IS NOT NULL) AS __upd
            FROM z GROUP BY {", ".join(quote(k) for k in key)}
            HAVING bool_or(__last_del IS NOT NULL) OR (bool_or(__outcome = '{UPDATED}') AND bool_or(__e0))
        """).to_arrow_table()  # noqa: S608

        # New records: the creating row's values (defaults for absent ones), then later updates of its group.
        values: list[str] = []
        params: list[object] = []
        for name in names:
            attr = schema.attribute(name)
            assert attr is not None
            col = quote(name)
            if name == ID_ATTRIBUTE:
                # The row's id, else (insertOrUpdate) its staged UUID; updates never change it.
                values.append(f"any_value(CASE WHEN list_contains(c._present, 'id') THEN c.{col} ELSE c._uuid END) "
                              f"AS {col}")
                continue
            later = f"list_contains(ov._present, '{name}')"
            fallback = _fallback(attr, segment, params)
            values.append(
                f"CASE WHEN bool_or({later}) THEN arg_max_null(ov.{col}, CASE WHEN {later} THEN ov._seq END) "
                f"WHEN any_value(list_contains(c._present, '{name}')) THEN any_value(c.{col}) "
                f"ELSE {fallback} END AS {col}")
        values += _absent_defaults(schema, segment, params)
        news = con.sql(f"""
            WITH c AS (SELECT * FROM z WHERE __tail AND __outcome = '{INSERTED}'),
                 ov AS (SELECT * FROM z WHERE __tail AND __outcome = '{UPDATED}')
            SELECT {", ".join(values)}
            FROM c LEFT JOIN ov ON {same} AND ov._seq > c._seq
            GROUP BY c._seq ORDER BY c._seq
        """, params=params).to_arrow_table()  # noqa: S608
    return groups, news, outcomes


def _fold_free(schema: Schema, key: Sequence[str], names: list[str],
               segment: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    # Only free inserts: no groups, each row is a new record (its values, defaults for absent ones), all inserted.
    news = _new_records(schema, names, segment, _presence(segment.column("_present"), names), issued=False)
    outcomes = pa.table({"_seq": segment.column("_seq"),
                         "outcome": pa.repeat(pa.scalar(INSERTED), segment.num_rows)})
    fields = [pa.field("__k_" + k, segment.schema.field(k).type) for k in key]
    for name in names:
        if name != ID_ATTRIBUTE:
            fields += [pa.field(name, segment.schema.field(name).type), pa.field("__p_" + name, pa.bool_())]
    fields += [pa.field("__del", pa.bool_()), pa.field("__upd", pa.bool_())]
    return pa.schema(fields).empty_table(), news, outcomes


def _fallback(attr: Attribute, segment: pa.Table, params: list[object]) -> str:
    # What an absent attribute of a new record gets: its literal default (a parameter), else NULL.
    default = default_literal(attr)
    if default is None:
        return "NULL"
    params.append(default)
    return f"CAST(? AS {_duck_type(segment, attr.name)})"


def _record_values(schema: Schema, names: list[str], segment: pa.Table,
                   id_value: str) -> tuple[list[str], list[object]]:
    # The columns of one new record per row: each attribute's value when present, else its fallback.
    values: list[str] = []
    params: list[object] = []
    for name in names:
        col = quote(name)
        if name == ID_ATTRIBUTE:
            values.append(f"{id_value} AS {col}")
            continue
        attr = schema.attribute(name)
        assert attr is not None
        values.append(f"CASE WHEN list_contains(_present, '{name}') THEN {col} "
                      f"ELSE {_fallback(attr, segment, params)} END AS {col}")
    return values + _absent_defaults(schema, segment, params), params


def _absent_default_values(schema: Schema, segment: pa.Table) -> list[tuple[str, Any]]:
    # A batch read carries only the attributes its rows hold (`ferry.sync.batches`): a new record still gets the
    # literal defaults of the others (attributes without one are left to the table's NULL).
    found = []
    for attr in schema.attributes:
        default = default_literal(attr)
        if attr.name not in segment.column_names and attr.name != ID_ATTRIBUTE and default is not None:
            found.append((attr.name, default))
    return found


def _absent_defaults(schema: Schema, segment: pa.Table, params: list[object]) -> list[str]:
    values = []
    for name, default in _absent_default_values(schema, segment):
        attr = schema.attribute(name)
        assert attr is not None
        params.append(default)
        values.append(f"CAST(? AS {DUCKDB_TYPES[attr.type]}) AS {quote(name)}")
    return values


def _duck_type(table: pa.Table, name: str) -> str:
    kind = table.schema.field(name).type
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_time(kind):
        return "TIME"
    return "VARCHAR"
