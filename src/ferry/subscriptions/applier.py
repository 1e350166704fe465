"""Applies staged `nms:subscription` requests to the warehouse, row by row in staging order, exactly once.

Called by `ffdaReplicateStagingData` (see `ferry.sync.workflow.APPLIERS`): `prepare` once per run (tables, the
service mirror, expiry), `apply` per claimed batch. A batch's warehouse changes and its ledger row commit in one
warehouse transaction, so a batch re-applied after a crash is found in the ledger and never applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.schema.types import coerce
from ferry.staging.database import StagingDatabase
from ferry.subscriptions import HISTORY_ID, RECIPIENT_ID, SERVICE_ID
from ferry.subscriptions.services import Service, all_services
from ferry.subscriptions.whsql import WarehouseTx
from ferry.warehouse.base import COUNT_NAMES, BatchOutcome, Span, Warehouse
from ferry.warehouse.tables import default_literal, quote, stamp_columns, table_name

EXPIRY_ORIGIN = "expiry"
NOT_FOUND = "recipient not found"
NOT_FOUND_NO_CREATE = "recipient not found and create=false"
ALREADY = "already subscribed"
NOT_SUBSCRIBED = "not subscribed"
ALREADY_OPTED_OUT = "already opted out"
NOT_A_REQUEST = "not a subscription request (action, recipientKey and recipientData are required)"


def clock() -> dt.datetime:
    """Now (a function so tests can move time forward to expire subscriptions)."""
    return dt.datetime.now(dt.UTC)


class _Tables:
    def __init__(self, db: StagingDatabase, schema: Schema) -> None:
        registry = db.registry
        self.subscription = schema
        self.recipient = _need(registry.get(RECIPIENT_ID), RECIPIENT_ID)
        self.history = _need(registry.get(HISTORY_ID), HISTORY_ID)
        self.service = _need(registry.get(SERVICE_ID), SERVICE_ID)
        self.sub = quote(table_name(schema))
        self.rcp = quote(table_name(self.recipient))
        self.hist = quote(table_name(self.history))
        self.svc = quote(table_name(self.service))


def _need(schema: Schema | None, schema_id: str) -> Schema:
    if schema is None:
        raise FerryError(errors.UNKNOWN_SCHEMA, f"built-in schema {schema_id} is missing")
    return schema


class SubscriptionApplier:
    """The `nms:subscription` applier plugged into the replication workflow."""

    def prepare(self, db: StagingDatabase, warehouse: Warehouse, schema: Schema) -> None:
        """Create the tables, mirror `ferry.services` into `nms:service`, and expire subscriptions past validity."""
        t = _Tables(db, schema)
        for each in (t.subscription, t.recipient, t.history, t.service):
            warehouse.ensure_table(each)
        services = all_services(db.pool)
        _in_tx(warehouse, lambda tx: self._mirror_and_expire(tx, t, services))

    def _mirror_and_expire(self, tx: WarehouseTx, t: _Tables, services: list[Service]) -> None:
        tx.run(f"DELETE FROM {t.svc}")  # noqa: S608
        for s in services:
            columns = ["id", "name", "label", "messageType", "disabled", "created", "lastModified"]
            params: list[Any] = [s.id, s.name, s.label, s.channel, s.disabled]
            if s.validity_days is not None:
                columns.insert(4, "validityDays")
                params.insert(4, s.validity_days)
            marks = ", ".join(["?"] * len(params) + [tx.now, tx.now])
            tx.run(f"INSERT INTO {t.svc} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})",  # noqa: S608
                   params)
        now = clock()
        expired = tx.rows(f'SELECT "id", "recipientId", "serviceName" FROM {t.sub} '  # noqa: S608
                          'WHERE "expirationDate" IS NOT NULL AND "expirationDate" <= ?', [now])
        for sub_id, recipient_id, service_name in expired:
            _history(tx, t, str(recipient_id), str(service_name), 0, now, EXPIRY_ORIGIN, None)
            tx.run(f'DELETE FROM {t.sub} WHERE "id" = ?', [str(sub_id)])  # noqa: S608

    def apply(self, db: StagingDatabase, warehouse: Warehouse, schema: Schema, batch_id: str, rows: pa.Table,
              hook: Callable[[str], None] | None = None, span: Span | None = None) -> BatchOutcome:
        """Apply every request of the batch in `_seq` order and write the ledger row (naming `span`), in one
        transaction."""
        t = _Tables(db, schema)
        services = {s.name: s for s in all_services(db.pool)}
        counts = dict.fromkeys(COUNT_NAMES, 0)
        counts["read"] = rows.num_rows
        skipped: list[tuple[int, str]] = []
        failed: list[tuple[int, str]] = []
        tx = WarehouseTx(warehouse)
        try:
            for row in rows.to_pylist():
                seq = int(row["_seq"])
                try:
                    result = self._one(tx, t, services, row)
                except FerryError as exc:
                    failed.append((seq, exc.text))
                    continue
                if result in COUNT_NAMES:
                    counts[result] += 1
                else:
                    skipped.append((seq, result))
            counts["skipped"], counts["failed"] = len(skipped), len(failed)
            outcome = BatchOutcome(batch_id, counts, skipped, failed)
            outcome.cover(span)
            tx.tx.write_ledger(batch_id, schema.id, outcome)
            if hook:
                hook("after_load")
            tx.tx.commit()
        except BaseException as exc:
            tx.rollback()
            if isinstance(exc, Exception) and not isinstance(exc, FerryError):
                warehouse._raise_unless_data(exc)
                raise FerryError(errors.WAREHOUSE_REJECTED, f"the warehouse refused a subscription change: "
                                 f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}") from exc
            raise
        if hook:
            hook("after_commit")
        return outcome

    def _one(self, tx: WarehouseTx, t: _Tables, services: dict[str, Service], row: dict[str, Any]) -> str:
        """Apply one request; returns a count name (`inserted`, `deleted`, `updated`) or a skip reason."""
        action, key_text, data = row.get("action"), row.get("recipientKey"), row.get("recipientData")
        if action not in (0, 1) or not key_text or not data:
            raise FerryError(errors.BAD_RECIPIENT, NOT_A_REQUEST)
        values = _typed(t.recipient, json.loads(data))
        key = tuple(key_text.split(","))
        if any(values.get(k) is None for k in key):
            raise FerryError(errors.BAD_RECIPIENT, f"the recipient carries no value for its key {key_text}")
        request_id = str(row["_uuid"])
        when = row.get("requestedAt") or clock()
        origin = str(row.get("origin") or "api")
        service_name = row.get("serviceName")
        where = " AND ".join(f"{quote(k)} = ?" for k in key)
        found = tx.rows(f'SELECT "id" FROM {t.rcp} WHERE {where} ORDER BY "id" LIMIT 1',  # noqa: S608
                        [values[k] for k in key])
        recipient_id = str(found[0][0]) if found else None
        if service_name is None:  # Unsubscribe without a service: opt out of every channel.
            if recipient_id is None:
                return NOT_FOUND
            flag = tx.rows(f'SELECT "blackList" FROM {t.rcp} WHERE "id" = ?', [recipient_id])  # noqa: S608
            if flag and flag[0][0]:
                return ALREADY_OPTED_OUT
            tx.run(f'UPDATE {t.rcp} SET "blackList" = true, "lastModified" = {tx.now} WHERE "id" = ?',  # noqa: S608
                   [recipient_id])
            _history(tx, t, recipient_id, None, 0, when, origin, request_id)
            return "updated"
        if action == 1:
            if recipient_id is None:
                if not row.get("createRecipient"):
                    return NOT_FOUND_NO_CREATE
                recipient_id = request_id
                _create_recipient(tx, t, recipient_id, values)
            exists = tx.rows(f'SELECT 1 FROM {t.sub} WHERE "recipientId" = ? AND "serviceName" = ?',  # noqa: S608
                             [recipient_id, service_name])
            if exists:
                return ALREADY
            service = services.get(service_name)
            columns = ["id", "recipientId", "serviceName", "created", "lastModified"]
            params: list[Any] = [request_id, recipient_id, service_name, when]
            marks = ["?", "?", "?", "?", tx.now]
            if service is not None and service.validity_days:
                columns.append("expirationDate")
                params.append(when + dt.timedelta(days=service.validity_days))
                marks.append("?")
            tx.run(f"INSERT INTO {t.sub} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                   f"VALUES ({', '.join(marks)})", params)
            _history(tx, t, recipient_id, service_name, 1, when, origin, request_id)
            return "inserted"
        if recipient_id is None:
            return NOT_FOUND
        exists = tx.rows(f'SELECT "id" FROM {t.sub} WHERE "recipientId" = ? AND "serviceName" = ?',  # noqa: S608
                         [recipient_id, service_name])
        if not exists:
            return NOT_SUBSCRIBED
        tx.run(f'DELETE FROM {t.sub} WHERE "recipientId" = ? AND "serviceName" = ?',  # noqa: S608
               [recipient_id, service_name])
        _history(tx, t, recipient_id, service_name, 0, when, origin, request_id)
        return "deleted"


def _typed(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FerryError(errors.BAD_RECIPIENT, NOT_A_REQUEST)
    typed: dict[str, Any] = {}
    for name, text in data.items():
        attribute = schema.attribute(str(name))
        if attribute is None:
            raise FerryError(errors.BAD_RECIPIENT, f"the recipient has no attribute {name!r}", attribute=str(name))
        typed[str(name)] = coerce(attribute.type, str(text), attribute.length)
    return typed


def _create_recipient(tx: WarehouseTx, t: _Tables, recipient_id: str, values: dict[str, Any]) -> None:
    row: dict[str, Any] = {}
    for attribute in t.recipient.attributes:
        default = default_literal(attribute)
        if default is not None:
            row[attribute.name] = default
    row.update({k: v for k, v in values.items() if v is not None})
    row["id"] = recipient_id
    stamps = stamp_columns(t.recipient)
    columns = [*row, *stamps]
    marks = ["?"] * len(row) + [tx.now] * len(stamps)
    tx.run(f"INSERT INTO {t.rcp} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
           f"VALUES ({', '.join(marks)})", list(row.values()))


def _history(tx: WarehouseTx, t: _Tables, recipient_id: str, service_name: str | None, action: int,
             when: dt.datetime, origin: str, request_id: str | None) -> None:
    columns = ["id", "recipientId", "action", "date", "origin", "created", "lastModified"]
    params: list[Any] = [str(uuid.uuid4()), recipient_id, action, when, origin]
    if service_name is not None:
        columns.append("serviceName")
        params.append(service_name)
    if request_id is not None:
        columns.append("requestId")
        params.append(request_id)
    marks = ["?"] * 5 + [tx.now, tx.now] + ["?"] * (len(params) - 5)
    tx.run(f"INSERT INTO {t.hist} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
           f"VALUES ({', '.join(marks)})", params)


def _in_tx(warehouse: Warehouse, work: Callable[[WarehouseTx], None]) -> None:
    tx = WarehouseTx(warehouse)
    try:
        work(tx)
        tx.tx.commit()
    except BaseException as exc:
        tx.rollback()
        if isinstance(exc, Exception) and not isinstance(exc, FerryError):
            warehouse._raise_unless_data(exc)
        raise


APPLIER = SubscriptionApplier()
