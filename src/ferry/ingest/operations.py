"""The validated operations a call stages: what every later stage (staging, sync) works from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ferry.ingest import ids


class Method(StrEnum):
    """The two Campaign ingestion methods."""

    INGEST = "Ingest"
    INGEST_EXT = "IngestExt"


class Op(StrEnum):
    """What a staged row asks the warehouse to do with its record."""

    INSERT = "insert"
    INSERT_OR_UPDATE = "insertOrUpdate"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Operation:
    """One record of a call, converted and checked against its schema.

    `key` is None for an insert without `_key` (a new record whose `id` is the staged UUID); the sync treats
    it as keyed on `id`. `values` holds exactly the attributes the document carried (partial updates).
    """

    uuid: uuid.UUID
    op: Op
    key: tuple[str, ...] | None
    values: dict[str, Any]
    position: int

    @property
    def reconciliation_key(self) -> tuple[str, ...]:
        """The attributes that identify the record when the operation is applied."""
        return self.key if self.key is not None else ("id",)


@dataclass(frozen=True)
class Call:
    """One accepted API call: its operations all target one staged schema."""

    schema_id: str
    method: Method
    operations: tuple[Operation, ...]
    request_id: uuid.UUID = field(default_factory=ids.uuid7)
    operator: str | None = None
    origin: str = "api"
    run_id: uuid.UUID | None = None  # the script run that made this call (its calls share it), else None

    @property
    def result(self) -> str:
        """What Ingest returns: the ids of records inserted without `_key`, comma-separated; "" otherwise."""
        return ",".join(str(op.values["id"]) for op in self.operations if op.key is None and op.op is Op.INSERT)
