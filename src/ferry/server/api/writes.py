"""Campaign v7 `xtk:session#Write` / `#WriteCollection`: straight to the warehouse, no staging.

Semantics (documented choices):
- One warehouse transaction per call, with a ledger entry named by the call's request id: every record applies,
  or none does and the call faults.
- `_operation`: insert, insertOrUpdate (default), update, delete, `none` (the record is ignored). `_key` names the
  reconciliation key; without it the schema's first business key (e.g. `@email`) when the record carries its
  attributes, else `@id` when given, else a new record with a new id (insert and insertOrUpdate, as Campaign's
  Write); update / delete without any key are refused naming the method called (Write / WriteCollection).
- Validation is the Ingest/IngestExt one (`ferry.ingest.build_call`), and applying is the sync's fold, so a
  Write means exactly what the same IngestExt would mean once synced.
- Insert of a key that exists → fault `SOP-330011 … FRY-400011 ODB-240000 …` (Campaign faults on a duplicate);
  update of a missing record is silent (as Campaign). A value the warehouse refuses → fault FRY-400012.
- WriteCollection takes `<x-collection>` or the SDK's `<recipient xtkschema=…>` holding repeated children.
- Right: admin or the ingest right on the schema. Writes bypass staging, so they are not ordered with staged
  calls that are not synced yet (as in Campaign, where Write and the staging replication are separate paths).
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa
from lxml import etree

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import Call, Method, build_call, records_from_xml
from ferry.ingest.documents import RawRecord, xml_record
from ferry.schema.model import Schema
from ferry.schema.types import AttrType
from ferry.server.api.queries import ensure_table
from ferry.server.api.soap import DOC_PARAMS, PERSIST_URNS, SoapContext, SoapRouter
from ferry.soap.writer import Output
from ferry.warehouse.base import BatchOutcome
from ferry.warehouse.fold import REASONS, SKIPPED_EXISTS

PROTOCOL = "soap-write"
DUPLICATE_CODE = "ODB-240000"

ARROW_TYPES: dict[AttrType, pa.DataType] = {
    AttrType.STRING: pa.string(), AttrType.MEMO: pa.string(), AttrType.UUID: pa.string(),
    AttrType.BOOLEAN: pa.bool_(), AttrType.BYTE: pa.int16(), AttrType.SHORT: pa.int16(),
    AttrType.LONG: pa.int32(), AttrType.INT: pa.int32(), AttrType.INT64: pa.int64(),
    AttrType.DOUBLE: pa.float64(), AttrType.FLOAT: pa.float64(), AttrType.DATE: pa.date32(),
    AttrType.DATETIME: pa.timestamp("us", tz="UTC"), AttrType.DATETIMETZ: pa.timestamp("us", tz="UTC"),
    AttrType.DATETIMENOTZ: pa.timestamp("us"), AttrType.TIME: pa.time64("us"),
}


def collection_records(root: etree._Element) -> list[RawRecord]:
    """WriteCollection: `<x-collection>`, or a root holding repeated record children (the SDK's shape)."""
    children = [child for child in root if isinstance(child.tag, str)]
    if etree.QName(root).localname.endswith("-collection") or not children:
        return records_from_xml(root)
    records = []
    for index, child in enumerate(children):
        try:
            records.append(xml_record(child, index + 1, root.get("xtkschema")))
        except FerryError as exc:
            raise exc.at(index + 1) from None
    return records


def _default_key(schema: Schema, record: RawRecord) -> RawRecord:
    if record.key is not None:
        return record
    business = schema.business_key
    if business and all(record.fields.get(name) not in (None, "") for name in business):
        return dataclasses.replace(record, key=",".join(f"@{name}" for name in business))
    if record.fields.get("id") not in (None, ""):
        return dataclasses.replace(record, key="@id")
    return record


def _keyed(schema: Schema, record: RawRecord, method: str) -> RawRecord:
    """The record with its default key; without any key it is a new record (Campaign's Write), when it may be."""
    record = _default_key(schema, record)
    if record.key is not None:
        return record
    operation = (record.operation or "").strip()
    if operation in ("", "insertOrUpdate"):
        return dataclasses.replace(record, operation="insert")
    if operation in ("update", "delete"):
        raise FerryError(errors.NO_KEY, f"Record {record.position}: {method} {operation} needs a key to find the "
                         f"record: a _key attribute (e.g. _key=\"@email\"), the key attributes of {schema.id}, or "
                         "its id", position=record.position)
    return record


def prepare(ctx: SoapContext, records: list[RawRecord]) -> Call | None:
    """Validate as IngestExt would (after dropping `_operation="none"` and choosing default keys); None if empty."""
    operator = ctx.operator
    assert operator is not None
    registry = ctx.runtime.registry
    if not records:
        raise FerryError(errors.EMPTY_CALL, "the document holds no record")
    schema = registry.resolve_staged(records[0].xtkschema)
    method = ctx.soap.method
    kept = [_keyed(schema, r, method) for r in records if (r.operation or "").strip() != "none"]
    if not kept:
        return None
    call = build_call(registry, Method.INGEST_EXT, kept, operator=operator.login, origin=PROTOCOL,
                      max_records=ctx.runtime.settings.max_records_per_call)
    ctx.runtime.auth.require_ingest(operator, call.schema_id)
    return call


def call_batch(schema: Schema, call: Call) -> pa.Table:
    """The call's operations shaped like a staged batch (`_seq`, `_uuid`, `_op`, `_key`, `_present`, attributes)."""
    ops = call.operations
    columns: dict[str, pa.Array] = {
        "_seq": pa.array(range(1, len(ops) + 1), pa.int64()),
        "_uuid": pa.array([str(op.uuid) for op in ops], pa.string()),
        "_op": pa.array([op.op.value for op in ops], pa.string()),
        "_key": pa.array([list(op.key) if op.key is not None else None for op in ops], pa.list_(pa.string())),
        "_present": pa.array([list(op.values) for op in ops], pa.list_(pa.string())),
    }
    for attribute in schema.attributes:
        columns[attribute.name] = pa.array([op.values.get(attribute.name) for op in ops],
                                           ARROW_TYPES[attribute.type])
    return pa.table(columns)


def apply_call(ctx: SoapContext, call: Call) -> BatchOutcome:
    """One warehouse transaction: refuse (roll back) a duplicate insert; blocking, run it in a worker thread."""
    schema = ctx.runtime.registry.get(call.schema_id)
    assert schema is not None
    warehouse = ctx.runtime.warehouse
    ensure_table(warehouse, schema)
    positions = {index + 1: op.position for index, op in enumerate(call.operations)}

    def accept(outcome: BatchOutcome) -> None:
        for seq, reason in outcome.skipped:
            if reason == REASONS[SKIPPED_EXISTS]:
                position = positions.get(seq, seq)
                raise FerryError(errors.WRITE_DUPLICATE_KEY, f"{DUPLICATE_CODE} Record {position}: a {schema.id} "
                                 "record with this key already exists (insert refused; nothing was written)",
                                 position=position)

    try:
        outcome: BatchOutcome = warehouse.apply_atomic(schema, str(call.request_id), call_batch(schema, call), accept)
        return outcome
    except FerryError as exc:
        if exc.code is errors.WAREHOUSE_REJECTED:
            raise FerryError(errors.WRITE_REJECTED, f"the warehouse refused the call; nothing was written: "
                             f"{exc.message}") from None
        raise


async def _write(ctx: SoapContext, collection: bool) -> list[Output]:
    document = ctx.soap.document(DOC_PARAMS, 1)
    if document is None:
        raise FerryError(errors.EMPTY_CALL, "the call carries no document: send the record as the only child "
                         "element of the doc parameter")
    records = collection_records(document) if collection else records_from_xml(document)
    call = prepare(ctx, records)
    if call is not None:
        await ctx.runtime.reads.run(apply_call, ctx, call, bounded=False)
    return []


async def write(ctx: SoapContext) -> list[Output]:
    """`xtk:session#Write`: one record (or a collection) applied to the warehouse in one transaction."""
    return await _write(ctx, collection=False)


async def write_collection(ctx: SoapContext) -> list[Output]:
    """`xtk:session#WriteCollection`: every child record, in one transaction."""
    return await _write(ctx, collection=True)


def register_soap(router: SoapRouter) -> None:
    """Serve Write and WriteCollection for `xtk:session`, `xtk:persist` and `xtk:persist|xtk:session`."""
    router.add(PERSIST_URNS, "Write", write)
    router.add(PERSIST_URNS, "WriteCollection", write_collection)

