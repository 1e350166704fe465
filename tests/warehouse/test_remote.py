"""The warehouse owner's socket (`--workers N` with DuckDB): value encoding, who may connect, errors, apply_atomic."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import socket
import stat
import time
import uuid
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.loader import parse_schema
from ferry.schema.model import Schema
from ferry.schema.staging import with_internal_id
from ferry.server.process.owner_socket import WarehouseOwner
from ferry.server.process.parts import UP, PartState
from ferry.server.process.runtime import Runtime
from ferry.warehouse import Warehouse, open_warehouse, remote
from ferry.warehouse.base import BatchOutcome
from ferry.warehouse.remote import (
    OwnerLink,
    RemoteError,
    RemoteWarehouse,
    decode_rows,
    decode_value,
    encode_rows,
    encode_value,
)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
VALUES: list[Any] = [
    None, True, False, 0, -1, 2**70, 1.5, -0.0, math.inf, -math.inf, "", "é\u2603\x00", "{\"$\": \"dec\"}",
    decimal.Decimal("1.50"), decimal.Decimal("-0.001"), decimal.Decimal("1E+3"),
    uuid.UUID("9372d00c-d705-4690-99a5-4f32c3473f25"), b"", b"\x00\xff", bytearray(b"ab"),
    dt.date(2024, 2, 29), dt.datetime(2024, 1, 1, 10, 0, 0, 123456),
    dt.datetime(2024, 1, 1, 8, 0, tzinfo=zoneinfo.ZoneInfo("Etc/UTC")),
    dt.datetime(2024, 10, 27, 2, 30, tzinfo=PARIS, fold=1), dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.time(10, 0, 1, 5), dt.time(10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
    dt.timedelta(days=-1, seconds=5, microseconds=7), [1, [None, "x"]], (1, "a"), {"a": 1, "b": [dt.date(2024, 1, 1)]},
]


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type, with the same time zone (and NaN equal to NaN)."""
    if type(a) is not type(b) and not (isinstance(a, bytearray) and type(b) is bytes):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (dt.datetime, dt.time)):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold and a.replace(tzinfo=None) == b.replace(
            tzinfo=None)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@pytest.mark.parametrize("value", [*VALUES, math.nan], ids=lambda v: f"{type(v).__name__}:{v!r}"[:40])
def test_every_value_type_round_trips_through_json(value: Any) -> None:
    wire = json.dumps(encode_value(value), allow_nan=False)
    assert _same(value, decode_value(json.loads(wire)))


def test_rows_round_trip_column_by_column() -> None:
    """Columns of one type (with NULLs) take the compact path, mixed ones go value by value: both exact."""
    uniform = [tuple(VALUES), tuple(None for _ in VALUES), tuple(VALUES)]
    mixed = [(value, index, dt.datetime(2024, 1, 1, tzinfo=PARIS if index % 2 else dt.UTC), math.nan if index == 3
              else 0.5) for index, value in enumerate([*VALUES, math.nan])]
    for rows in (uniform, mixed, [], [()]):
        got = decode_rows(json.loads(json.dumps(encode_rows(rows), allow_nan=False)))
        assert _same(rows, got) and all(type(row) is tuple for row in got)


def test_an_unknown_type_is_refused_clearly() -> None:
    with pytest.raises(FerryError) as refused:
        encode_value(object())
    assert refused.value.code is errors.SERVER_INTERNAL and "object" in refused.value.message


# -- an owner on a real DuckDB file, in this process ----------------------------------------------------------------

XML = """<srcSchema namespace="tst" name="thing" xtkschema="xtk:srcSchema">
  <element name="thing" autopk="true" autouuid="true" autoStg="true">
    <attribute name="email" type="string" length="64"/>
  </element>
</srcSchema>"""


def _batch(rows: list[tuple[int, str, list[str] | None, str]], s: Schema) -> pa.Table:
    """Inserts shaped like a staged batch: `_seq`, `_uuid`, `_op`, `_key`, `_present`, attributes."""
    return pa.table({"_seq": pa.array([r[0] for r in rows], pa.int64()),
                     "_uuid": [str(uuid.uuid4()) for _ in rows], "_op": [r[1] for r in rows],
                     "_key": pa.array([r[2] for r in rows], pa.list_(pa.string())),
                     "_present": pa.array([["id", "email"] for _ in rows], pa.list_(pa.string())),
                     **{name: pa.array([str(uuid.uuid4()) if name == "id" else r[3] for r in rows], pa.string())
                        for name in s.attribute_names}})


@pytest.fixture
def owned(tmp_path: Path) -> Iterator[tuple[WarehouseOwner, Warehouse, Schema]]:
    """A WarehouseOwner serving a DuckDB file (its runtime reduced to what the owner uses)."""
    schema = with_internal_id(parse_schema(XML))
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    taken: list[int] = []
    runtime = SimpleNamespace(
        settings=SimpleNamespace(data_dir=tmp_path / "data"), warehouse=warehouse,
        registry=SimpleNamespace(get=lambda sid: schema if sid == schema.id else None),
        db=SimpleNamespace(reload_schemas=lambda: None),
        parts=SimpleNamespace(state=lambda name: PartState(UP, None, 0.0, 0.0)),
        sync=SimpleNamespace(scheduler=SimpleNamespace(take_requests=lambda: taken.append(1))))
    owner = WarehouseOwner(runtime)
    owner.start()
    try:
        yield owner, warehouse, schema
    finally:
        owner.stop()
        warehouse.close()


def _remote(owner: WarehouseOwner, secret: str | None = None) -> RemoteWarehouse:
    return RemoteWarehouse("duckdb:///w", OwnerLink(owner.path, secret or owner.secret, os.getpid()))


def test_the_socket_is_private(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, _, _ = owned
    assert stat.S_IMODE(os.stat(owner.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(owner.folder).st_mode) == 0o700
    assert OwnerLink.from_env(owner.environ()) == OwnerLink(owner.path, owner.secret, None)


def test_select_returns_the_values_duckdb_returns(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, warehouse, _ = owned
    sql = ("SELECT TIMESTAMPTZ '2024-01-01 10:00:00+02', TIMESTAMP '2024-01-01 10:00:00.5', DATE '2024-02-29', "
           "TIME '10:00', 1.50::DECIMAL(10, 2), 'a9372d00-d705-4690-99a5-4f32c3473f25'::UUID, 'ab'::BLOB, true, "
           "42, 2::BIGINT, 1.5::DOUBLE, 'x', NULL, ?, ?, [1, 2], {'a': 1}, INTERVAL 1 DAY")
    params = [dt.datetime(2024, 5, 1, tzinfo=dt.UTC), decimal.Decimal("3.25")]
    local = warehouse.select(sql, params)
    remote = _remote(owner)
    try:
        got = remote.select(sql, params)
    finally:
        remote.close()
    assert _same(local, got) and all(type(row) is tuple for row in got)
    assert _same(local, decode_rows(json.loads(json.dumps(encode_rows(local)))))


def test_a_wrong_secret_is_refused(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, _, _ = owned
    remote = _remote(owner, secret="not-the-secret")
    with pytest.raises(FerryError) as refused:
        remote.select("SELECT 1", [])
    assert refused.value.code is errors.FORBIDDEN and "secret" in refused.value.message


def test_a_peer_of_another_uid_is_refused(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, _, _ = owned
    owner.uid = os.getuid() + 1  # as if this test ran as another user than the owner
    with pytest.raises(FerryError) as refused:
        _remote(owner).select("SELECT 1", [])
    assert refused.value.code is errors.FORBIDDEN and "uid" in refused.value.message


def test_a_refusal_sent_before_the_hello_is_read_not_a_broken_pipe(owned: tuple[WarehouseOwner, Warehouse, Schema],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The owner refuses another uid before reading the hello and closes; the hello then meets a closed socket.
    owner, _, _ = owned
    owner.uid = os.getuid() + 1
    real_send = remote.send_message

    def late_hello(sock: socket.socket, header: dict[str, Any], blob: bytes | None = None) -> None:
        if header.get("op") == "hello":
            sock.settimeout(5)
            sock.recv(1, socket.MSG_PEEK)  # the refusal has arrived
            time.sleep(0.05)  # and the owner has closed its end
        real_send(sock, header, blob)

    monkeypatch.setattr(remote, "send_message", late_hello)
    with pytest.raises(FerryError) as refused:
        _remote(owner).select("SELECT 1", [])
    assert refused.value.code is errors.FORBIDDEN and "uid" in refused.value.message


def test_an_owner_that_is_down_gives_a_clear_fault(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, _, _ = owned
    remote = _remote(owner)
    assert remote.select("SELECT 1", []) == [(1,)]  # a pooled connection, then the owner goes away
    owner.stop()
    for _ in range(2):
        with pytest.raises(FerryError) as down:
            remote.select("SELECT 1", [])
        assert down.value.code is errors.WAREHOUSE_UNAVAILABLE
        assert f"owner process (PID {os.getpid()}) is not answering" in down.value.message
    with pytest.raises(FerryError) as health:
        Runtime._check_owner(remote)
    assert health.value.code is errors.WAREHOUSE_UNAVAILABLE


def test_errors_come_back_as_values(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, _, schema = owned
    remote = _remote(owner)
    with pytest.raises(RemoteError, match="CatalogException"):
        remote.select("SELECT * FROM no_such_table", [])
    other = with_internal_id(parse_schema(XML.replace('name="thing"', 'name="other"')))
    with pytest.raises(FerryError) as unknown:
        remote.ensure_table(other)
    assert unknown.value.code is errors.UNKNOWN_SCHEMA  # the same Code object, as `is` checks need
    assert remote.select("SELECT 1", []) == [(1,)]  # the connection survives an error
    with pytest.raises(FerryError) as no_sync:
        remote.apply_batch(schema, "b", _batch([], schema))
    assert no_sync.value.code is errors.WAREHOUSE_NOT_OPENED
    assert remote.identity() == owner.runtime.warehouse.identity()
    assert remote.health() == {"status": "up", "reason": None}


def test_apply_atomic_commits_only_the_accepted_outcome(owned: tuple[WarehouseOwner, Warehouse, Schema]) -> None:
    owner, warehouse, schema = owned
    remote = _remote(owner)
    remote.ensure_table(schema)
    seen: list[BatchOutcome] = []

    def refuse_existing(outcome: BatchOutcome) -> None:
        seen.append(outcome)
        if outcome.skipped:
            raise FerryError(errors.WRITE_DUPLICATE_KEY, "exists")

    first = remote.apply_atomic(schema, "w1", _batch([(1, "insert", ["email"], "a")], schema), refuse_existing)
    assert first.counts["inserted"] == 1 and remote.batch_applied("w1") is not None
    with pytest.raises(FerryError) as duplicate:
        remote.apply_atomic(schema, "w2", _batch([(1, "insert", ["email"], "a"), (2, "insert", ["email"], "b")],
                                                 schema), refuse_existing)
    assert duplicate.value.code is errors.WRITE_DUPLICATE_KEY
    assert remote.batch_applied("w2") is None
    assert sorted(r["email"] for r in warehouse.read(schema)) == ["a"]  # nothing of the refused call

    # Another write lands between the dry run and the commit: `accept` sees the new outcome and refuses it.
    seen.clear()

    def race(outcome: BatchOutcome) -> None:
        if not seen:
            warehouse.apply_atomic(schema, "other", _batch([(1, "insert", None, "c")], schema)
                                   .set_column(0, "_seq", pa.array([1], pa.int64())), lambda _o: None)
            warehouse.select("SELECT 1", [])
        refuse_existing(outcome)

    # The racing write inserts `c` with a fresh id; this call's insert of `c` by email then finds it.
    with pytest.raises(FerryError) as raced:
        remote.apply_atomic(schema, "w3", _batch([(1, "insert", ["email"], "c")], schema), race)
    assert raced.value.code is errors.WRITE_DUPLICATE_KEY
    assert [o.counts["inserted"] for o in seen] == [1, 0]  # the dry run's outcome, then the changed one
    assert sorted(r["email"] for r in warehouse.read(schema)) == ["a", "c"]
    remote.close()


def test_a_commit_whose_answer_is_lost_is_in_doubt_unless_the_ledger_has_it(
        owned: tuple[WarehouseOwner, Warehouse, Schema], monkeypatch: pytest.MonkeyPatch) -> None:
    owner, warehouse, schema = owned
    real = owner.answer
    commits = {"run": True}

    def lose_the_commit_reply(header: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        committing = header.get("op") == "apply_atomic" and header["args"].get("commit")
        reply = real(header, blob) if commits["run"] or not committing else {}
        if committing:
            raise ConnectionResetError("the reply is lost")  # the handler drops the connection
        return reply

    monkeypatch.setattr(owner, "answer", lose_the_commit_reply)
    remote = _remote(owner)
    remote.ensure_table(schema)
    outcome = remote.apply_atomic(schema, "w1", _batch([(1, "insert", ["email"], "a")], schema), lambda _o: None)
    assert outcome.from_ledger and outcome.counts["inserted"] == 1  # it committed: the ledger says so
    commits["run"] = False
    with pytest.raises(FerryError) as unknown:
        remote.apply_atomic(schema, "w2", _batch([(1, "insert", ["email"], "b")], schema), lambda _o: None)
    assert unknown.value.code is errors.WAREHOUSE_TIMEOUT and "unknown" in unknown.value.message
    assert sorted(r["email"] for r in warehouse.read(schema)) == ["a"]
    remote.close()
