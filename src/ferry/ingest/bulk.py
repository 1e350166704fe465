"""Bulk files into staging: each record checked on its own, good ones COPYed in chunks, bad ones reported."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.files import FileFormat, RecordError, detect_format, iter_records
from ferry.ingest.operations import Call, Method, Operation
from ferry.ingest.rules import build_operation
from ferry.schema.registry import SchemaRegistry
from ferry.staging.store import StagingStore

MAX_REPORTED_REFUSALS = 1000


@dataclass
class BulkReport:
    """What a bulk load did: records staged, records refused (the first ones kept with their reason)."""

    schema_id: str
    staged: int = 0
    refused: int = 0
    refusals: list[FerryError] = field(default_factory=list)
    requests: list[uuid.UUID] = field(default_factory=list)

    def refuse(self, error: FerryError) -> None:
        """Count a refused record, keeping its reason while the list is short."""
        self.refused += 1
        if len(self.refusals) < MAX_REPORTED_REFUSALS:
            self.refusals.append(error)


def load_file(
    store: StagingStore,
    registry: SchemaRegistry,
    path: Path,
    schema_id: str,
    method: Method,
    *,
    fmt: FileFormat | None = None,
    chunk_rows: int = 10_000,
    encoding: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkReport:
    """Stage every valid record of `path`; each chunk is one call (one COPY, one commit)."""
    schema = registry.resolve_staged(schema_id)
    report = BulkReport(schema_id=schema.id)
    chunk: list[Operation] = []

    def flush() -> None:
        if not chunk:
            return
        call = Call(schema_id=schema.id, method=method, operations=tuple(chunk), origin="import")
        store.stage([call])
        report.staged += len(chunk)
        report.requests.append(call.request_id)
        chunk.clear()

    with path.open("rb") as stream:
        for item in iter_records(stream, fmt or detect_format(path), schema.id, encoding):
            if isinstance(item, RecordError):
                report.refuse(item.error)
                continue
            try:
                if item.xtkschema and registry.resolve_staged(item.xtkschema).id != schema.id:
                    raise FerryError(errors.MIXED_SCHEMAS, f"the record names {item.xtkschema}, not {schema.id}")
                chunk.append(build_operation(schema, method, item))
            except FerryError as exc:
                located = exc if item.line is None else FerryError(
                    exc.code, f"Record {item.position} (line {item.line}): {exc.message}", position=item.position,
                    attribute=exc.attribute, detail=exc.detail)
                report.refuse(located.at(item.position))
                continue
            if len(chunk) >= chunk_rows:
                flush()
                if progress is not None:
                    progress(stream.tell())
        flush()
        if progress is not None:
            progress(stream.tell())
    return report
