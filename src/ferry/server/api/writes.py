"""Campaign v7 `xtk:session#Write` / `#WriteCollection` over SOAP: straight to the warehouse, no staging.

The rules (keys, `_operation`, one transaction, the duplicate-insert fault) are `ferry.ingest.writes`, shared with
workflow scripts' `xtk.session.Write`; this module reads the SOAP call and runs the write on a read thread.
"""

from __future__ import annotations

from ferry import errors, options
from ferry.errors import FerryError
from ferry.ingest import Call, records_from_xml
from ferry.ingest import writes as rules
from ferry.ingest.documents import RawRecord
from ferry.ingest.writes import ARROW_TYPES, DUPLICATE_CODE, call_batch, collection_records
from ferry.query.run import ensure_table
from ferry.server.api.soap import DOC_PARAMS, PERSIST_URNS, SoapContext, SoapRouter
from ferry.soap.writer import Output
from ferry.warehouse.base import BatchOutcome

PROTOCOL = "soap-write"
__all__ = ["ARROW_TYPES", "DUPLICATE_CODE", "PROTOCOL", "apply_call", "call_batch", "collection_records", "prepare",
           "register_soap"]


def prepare(ctx: SoapContext, records: list[RawRecord]) -> Call | None:
    """Validate as IngestExt would (`ferry.ingest.writes.prepare`), with the caller's ingest right; None if empty."""
    operator = ctx.operator
    assert operator is not None
    return rules.prepare(ctx.runtime.registry, ctx.soap.method, records, operator=operator.login, origin=PROTOCOL,
                         max_records=ctx.runtime.settings.max_records_per_call,
                         require_right=lambda schema_id: ctx.runtime.auth.require_ingest(operator, schema_id))


def apply_call(ctx: SoapContext, call: Call) -> BatchOutcome:
    """One warehouse transaction (`ferry.ingest.writes.apply_call`); blocking, run it in a worker thread."""
    schema = ctx.runtime.registry.get(call.schema_id)
    assert schema is not None
    return rules.apply_call(schema, ctx.runtime.warehouse, call, ensure_table)


async def _write(ctx: SoapContext, collection: bool) -> list[Output]:
    document = ctx.soap.document(DOC_PARAMS, 1)
    if document is None:
        raise FerryError(errors.EMPTY_CALL, "the call carries no document: send the record as the only child "
                         "element of the doc parameter")
    if (document.get("xtkschema") or "").strip() == options.SCHEMA_ID:
        from ferry.server.api.compat import write_options  # here: compat imports this module

        await write_options(ctx, document)
        return []
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

